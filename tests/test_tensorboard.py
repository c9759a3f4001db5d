"""What TensorBoard shows of a finished sweep: scalars, HPARAMS, confusion matrix and misclassified digits."""

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from conftest import free_port
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

SCALARS = {"train/loss", "train/acc", "train/lr", "val/loss", "val/acc", "test/loss", "test/acc", "val/acc_best"}
IMAGES = {"test/confusion_matrix", "test/misclassified"}


def test_event_files_hold_scalars_hparams_and_images(trained_sweep):
    events = EventAccumulator(str(trained_sweep / "1"), size_guidance={"images": 0})
    events.Reload()
    assert SCALARS <= set(events.Tags()["scalars"])
    assert IMAGES <= set(events.Tags()["images"])
    for tag in IMAGES:
        assert events.Images(tag)[-1].encoded_image_string.startswith(b"\x89PNG")

    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = {name: value.number_value for name, value in start.session_start_info.hparams.items()}
    assert hparams["seed"] == 1 and hparams["model.dropout"] == 0.05 and hparams["trainer.limit_train_batches"] == 30
    assert hparams["data.val_size"] == 0  # says that validation scored the test set
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} == {"test/acc", "test/loss", "val/acc_best"}
    metrics = json.loads((trained_sweep / "1" / "metrics.json").read_text())
    assert events.Scalars("val/acc_best")[-1].value == pytest.approx(metrics["val/acc_best"])


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.system
def test_a_real_tensorboard_server_serves_the_sweep(trained_sweep):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(trained_sweep), "--host", "127.0.0.1",
         "--port", str(port), "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/data"
    try:
        deadline = time.monotonic() + 90
        runs: list[str] = []
        while time.monotonic() < deadline and sorted(runs) != ["0", "1"]:
            time.sleep(1)
            try:
                runs = get_json(f"{base}/runs")
            except OSError:
                runs = []  # not listening yet
        assert sorted(runs) == ["0", "1"]
        scalar_tags = get_json(f"{base}/plugin/scalars/tags")
        image_tags = get_json(f"{base}/plugin/images/tags")
        for run in runs:
            assert SCALARS <= set(scalar_tags[run])
            assert IMAGES <= set(image_tags[run])
        query = urllib.parse.urlencode({"run": "0", "tag": "test/confusion_matrix"})
        image = get_json(f"{base}/plugin/images/images?{query}")[-1]
        with urllib.request.urlopen(f"{base}/plugin/images/individualImage?{image['query']}", timeout=10) as response:
            assert response.read().startswith(b"\x89PNG")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_tensorboard_opens_on_the_curves_without_an_epoch_card_and_fills_hparams_for_every_recipe(
    trained_sweep, tmp_path
):
    from conftest import run_here
    from tensorboard.plugins.custom_scalar import layout_pb2

    run = tmp_path / "fast"  # a recipe without validation, and with none of the sweep's overrides
    args = ["experiment=fast", "trainer.limit_train_batches=2", "trainer.limit_test_batches=1", f"hydra.run.dir={run}"]
    assert run_here("mnist_lightning.train", *args, cwd=tmp_path).returncode == 0
    for folder in (trained_sweep / "0", run):
        events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
        events.Reload()
        assert "epoch" not in events.Tags()["scalars"]
        [config] = events.Tensors("custom_scalars__config__")  # the layout is the tensor's one string
        layout = layout_pb2.Layout.FromString(config.tensor_proto.string_val[0])
        charts = {chart.title: list(chart.multiline.tag) for category in layout.category for chart in category.chart}
        assert charts["loss (train, val)"] == ["^train/loss$", "^val/loss$"] and charts["learning rate"] == [
            "^train/lr$"
        ]
        assert "results/text_summary" in events.Tags()["tensors"]  # the final numbers as a table
        content = events.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hparams = start.session_start_info.hparams
        for name in ("trainer.max_epochs", "model.dropout", "optimizer.lr", "data.batch_size", "experiment", "model"):
            assert name in hparams, (folder, name)  # a cell in every row
    fast = plugin_data_pb2.HParamsPluginData.FromString(
        EventAccumulator(str(run)).Reload().PluginTagToContent("hparams")["_hparams_/session_start_info"]
    ).session_start_info.hparams
    assert fast["trainer.max_epochs"].number_value == 3 and fast["experiment"].string_value == "fast"
