"""Experiment trackers: a run's settings, metrics, tags and diagnostics reach MLflow (read back with MlflowClient),
CSV's hparams.yaml and TensorBoard's HPARAMS, and `logger=many` writes all three at once."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import assert_clear_error, free_port, run_here, run_module, wait_until_answers
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

mlflow = pytest.importorskip("mlflow", reason='needs the track extra: pip install -e ".[track]"')

TRAIN = "mnist_lightning.train"
# Two epochs of 12 steps with OneCycle, whose lr is logged per step (every log_every_n_steps=4), the rest per
# epoch; a test pass of one batch.
SHORT_RUN = ["trainer.max_epochs=2", "trainer.limit_train_batches=12", "trainer.limit_val_batches=2",
             "trainer.limit_test_batches=1", "trainer.log_every_n_steps=4", "scheduler=onecycle", "model.dropout=0.07",
             "seed=3"]  # fmt: skip


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    """One short run with logger=many and MLflow's configured store, as a user gets it: its SQLite file and
    artifacts under outputs/ of the folder the command ran in, here a folder of its own. (run folder, tracking URI)"""
    root = tmp_path_factory.mktemp("tracked")
    with pytest.MonkeyPatch.context() as patch:  # a developer's own tracking server is not the test's store
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = run_here(TRAIN, *SHORT_RUN, "logger=many", f"hydra.run.dir={root / 'run'}", cwd=root)
    assert result.returncode == 0, result.stderr
    assert (root / "outputs" / "mlflow.db").is_file()
    return root / "run", f"sqlite:///{root / 'outputs' / 'mlflow.db'}"


def only_run(uri: str):
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("mnist-lightning")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return client, runs[0]


def test_mlflow_has_the_config_as_parameters_every_metric_and_the_tags(tracked_run):
    run_dir, uri = tracked_run
    client, run = only_run(uri)
    params = run.data.params
    assert params["model/dropout"] == "0.07" and params["seed"] == "3" and params["scheduler/max_lr"] == "0.01"
    assert params["model/net/_target_"] == "mnist_lightning.model.nets.ReferenceNet"
    assert params["trainer/max_epochs"] == "2" and params["data/batch_size"] == "28"
    history = lambda name: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, name)]  # noqa: E731
    # Per step: OneCycle's lr every 4 of the 24 steps, rising while it warms up.
    lr = history("train/lr")
    assert [step for step, _ in lr] == [3, 7, 11, 15, 19, 23] and lr[0][1] < lr[1][1], lr
    # Per epoch, at the step each epoch ended: the epoch means and the validation scores.
    for name in ("train/loss", "train/acc", "val/loss", "val/acc"):
        assert [step for step, _ in history(name)] == [11, 23], (name, history(name))
    recorded = __import__("json").loads((run_dir / "metrics.json").read_text())
    assert run.data.metrics["test/acc"] == pytest.approx(recorded["test/acc"])
    tags = run.data.tags
    assert tags["tags"] == "reference" and tags["seed"] == "3"
    assert tags["mlflow.source.git.commit"] == recorded["provenance"]["git_commit"] != ""
    assert tags["run_folder"] == str(run_dir.resolve())
    assert tags["git_dirty"] == str(recorded["provenance"]["git_dirty"])
    assert tags["resumed_from"] == ""  # a run started from scratch
    assert run.info.status == "FINISHED"
    # Named by its training overrides, not MLflow's generated name (the same for every run of a seed: Python's
    # `random`, which the run seeds, draws it); logger=many and the folder are not training settings.
    assert run.info.run_name == ",".join(o for o in SHORT_RUN if "log_every_n_steps" not in o)
    # val/acc_best, known once the run ends: to MLflow too (TensorBoard only, before), once, at the last step
    assert history("val/acc_best") == [(24, pytest.approx(recorded["val/acc_best"]))]


def test_mlflow_keeps_the_test_diagnostics_and_metrics_json_as_artifacts(tracked_run):
    _, uri = tracked_run
    client, run = only_run(uri)
    files = {a.path for a in client.list_artifacts(run.info.run_id)}
    files |= {a.path for a in client.list_artifacts(run.info.run_id, "test")}
    assert {"metrics.json", "test/confusion_matrix.png", "test/misclassified.png"} <= files, files
    png = client.download_artifacts(run.info.run_id, "test/confusion_matrix.png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    # Kept where the config says: outputs/mlartifacts of the folder the command ran in, as an absolute path
    location = client.get_experiment(run.info.experiment_id).artifact_location
    assert location == str(Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts"), location


def test_csv_and_tensorboard_get_the_settings_and_every_metric_too(tracked_run):
    run_dir, _ = tracked_run
    hparams = yaml.safe_load((run_dir / "csv" / "hparams.yaml").read_text())
    assert hparams["model"]["dropout"] == 0.07 and hparams["seed"] == 3
    events = EventAccumulator(str(run_dir))
    events.Reload()
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")  # TensorBoard's HPARAMS entry
    # logger=many writes the metrics to each: per epoch at the step it ended, once; the final ones at the end
    recorded = json.loads((run_dir / "metrics.json").read_text())
    for name in ("val/acc", "train/loss"):
        assert [e.step for e in events.Scalars(name)] == [11, 23], name
    assert [e.value for e in events.Scalars("val/acc")] == pytest.approx([r["val/acc"] for r in recorded["history"]])
    rows = list(csv.DictReader((run_dir / "csv" / "metrics.csv").open()))
    assert [float(r["val/acc"]) for r in rows if r.get("val/acc")] == pytest.approx(
        [r["val/acc"] for r in recorded["history"]]
    )
    assert [float(r["val/acc_best"]) for r in rows if r.get("val/acc_best")] == [
        pytest.approx(recorded["val/acc_best"])
    ]


def test_a_failed_run_ends_its_mlflow_run_with_its_record_and_mlflows_own_variable_chooses_the_store(tmp_path):
    # MLFLOW_TRACKING_URI, MLflow's own way to name a store, was ignored (the config's SQLite file was written).
    store = tmp_path / "elsewhere.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}"}
    # A run that diverges at once, with a tag given as one word and one that is a number: tags=paper became five
    # one-letter tags, and [reference,2026] a TypeError that left the MLflow run RUNNING for good.
    args = ["logger=mlflow", "optimizer.lr=1e30", "tags=[paper,2026]", "trainer.limit_train_batches=5",
            f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    result = subprocess.run([sys.executable, "-m", TRAIN, *args], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 1 and "training diverged" in result.stderr, result.stderr
    assert store.is_file() and not (tmp_path / "outputs" / "mlflow.db").exists()
    client, run = only_run(f"sqlite:///{store}")
    assert run.info.status == "FAILED" and run.data.tags["tags"] == "paper, 2026"
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["metrics.json"]  # its record, status diverged
    record = json.loads(open(client.download_artifacts(run.info.run_id, "metrics.json")).read())
    assert record["status"] == "diverged" and record["tags"] == ["paper", "2026"]
    # where the run went, and how to browse it
    assert (
        f"MLflow run '{run.info.run_name}' in sqlite:///{store} (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow ui "
        f"--workers 1 --backend-store-uri sqlite:///{store})" in (result.stdout)
    )
    # One word is one tag.
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["tags"] == ["paper", "2026"]


def test_a_tracker_that_refuses_the_run_is_one_line(tmp_path):
    # W&B checks its project name when the run starts (wandb's UsageError, through Hydra's traceback before)
    pytest.importorskip("wandb", reason='needs the wandb extra: pip install -e ".[wandb]"')
    one_step = ["trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1"]
    args = ["logger=wandb", "logger.wandb.project=my/project", *one_step]  # fast_dev_run would not start W&B
    result = run_here(TRAIN, *args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert_clear_error(result, r"the WandbLogger could not record the run: Invalid project name 'my/project'")
    # A store MLflow cannot open: one line naming the logger (Hydra's "Error in call to target" before)
    args = ["logger=mlflow", "logger.mlflow.tracking_uri=sqlite:////proc/none/mlflow.db", "trainer.fast_dev_run=true"]
    result = run_here(TRAIN, *args, f"hydra.run.dir={tmp_path / 'run2'}", cwd=tmp_path)
    assert_clear_error(result, r"logger.mlflow could not be built: .*No such file or directory")


@pytest.mark.system
@pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="no Chromium here: apt-get install chromium chromium-driver",
)
def test_mlflow_ui_shows_the_run_in_a_browser(tracked_run, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    _, uri = tracked_run
    _, run = only_run(uri)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # As docs/distributed.md starts it: one web worker, without MLflow 3's job runner (a runner, 7 queue consumers).
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(flag)
    driver = None
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/health", server)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        url = f"http://127.0.0.1:{port}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
        driver.get(url)
        WebDriverWait(driver, 60).until(lambda d: run.info.run_name in d.find_element("tag name", "body").text)
        WebDriverWait(driver, 30).until(lambda d: "model/dropout" in d.find_element("tag name", "body").text)
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)


def wandb_records(path: Path):
    """The protobuf records of an offline W&B run file (`run-<id>.wandb`). wandb 0.31 ships no reader of its own
    (it moved into its Go core), so this reads the format: a 7-byte header, then LevelDB's log format (32 KiB
    blocks; records of a 7-byte header - checksum, length, type: full, first, middle, last - and data)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    position, block, pending = 7, 32768, b""
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a header is padding
            position += block - position % block
            continue
        length, kind = int.from_bytes(data[position + 4 : position + 6], "little"), data[position + 6]
        chunk, position = data[position + 7 : position + 7 + length], position + 7 + length
        if kind == 1:
            yield chunk
        elif kind in (2, 3):
            pending = chunk if kind == 2 else pending + chunk
        elif kind == 4:
            yield pending + chunk


@pytest.mark.system
def test_wandb_offline_run_holds_the_config_metrics_and_tags_to_sync_later(tmp_path):
    pytest.importorskip("wandb", reason='needs the wandb extra: pip install -e ".[wandb]"')
    from wandb.proto import wandb_internal_pb2

    run_dir = tmp_path / "run"
    result = run_module(TRAIN, *SHORT_RUN, "logger=wandb", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [run_file] = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    config, history, summary, tags = {}, [], {}, None
    name = lambda item: item.key or "/".join(item.nested_key)  # noqa: E731  ("val/acc" may come as nested keys)
    for raw in wandb_records(run_file):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            tags = list(record.run.tags)
        elif kind == "config":
            config |= {name(item): json.loads(item.value_json) for item in record.config.update}
        elif kind == "history":
            history.append({name(item): json.loads(item.value_json) for item in record.history.item})
        elif kind == "summary":
            summary |= {name(item): json.loads(item.value_json) for item in record.summary.update}
    assert config["model"]["dropout"] == 0.07 and config["seed"] == 3 and config["scheduler"]["max_lr"] == 0.01
    assert tags == ["reference"]
    assert [row["epoch"] for row in history if "val/acc" in row] == [0, 1]  # per epoch
    assert [row["trainer/global_step"] for row in history if "train/lr" in row] == [3, 7, 11, 15, 19, 23]  # per step
    recorded = json.loads((run_dir / "metrics.json").read_text())
    assert summary["test/acc"] == pytest.approx(recorded["test/acc"])
    assert "wandb sync" in result.stderr + result.stdout  # the run says how to upload it
