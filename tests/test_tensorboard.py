"""What TensorBoard shows of a finished sweep: scalars, HPARAMS, confusion matrix and misclassified digits."""

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
