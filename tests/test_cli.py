"""The command line as a user runs it: python -m mnist_lightning.train with Hydra overrides."""

import importlib.metadata
import json
import re
import shutil

import pytest
from conftest import assert_clear_error, run_here
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_lightning.base.errors import check_group_choices
from mnist_lightning.base.locations import BUNDLED_DATA_DIR

TRAIN = "mnist_lightning.train"


def test_fast_dev_run_writes_metrics_json(tmp_path):
    result = run_here(TRAIN, "trainer.fast_dev_run=true", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in ("test/acc", "test/loss", "val/acc_best", "epoch_of_val_acc_best", "params", "epochs", "train_seconds"):
        assert key in metrics, key
    assert 0 <= metrics["test/acc"] <= 1 and metrics["params"] == 17_216
    provenance = metrics["provenance"]
    assert len(provenance["git_commit"]) == 40 and isinstance(provenance["git_dirty"], bool)
    assert {"python", "torch", "lightning", "hydra", "cpu"} <= provenance.keys()
    assert provenance["version"] == importlib.metadata.version("mnist-lightning")
    assert (tmp_path / "run" / ".hydra" / "config.yaml").exists()
    assert "Total params: 17,216" in result.stdout  # the layer table is printed at start
    assert metrics["checkpoints"] == {"last": None, "best": None}  # fast_dev_run saves none: no path to a missing file
    assert metrics["fast_dev_run"] == 1  # the batches of each stage: reports keep its accuracy out of their means
    assert "on one batch (fast_dev_run: a smoke test); metrics in" in result.stdout
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_short_run_logs_tensorboard_scalars_checkpoints_and_seed_style_lines(tmp_path, tiny_run_args):
    run = tmp_path / "run"
    result = run_here(TRAIN, *tiny_run_args, f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"Epoch 1: test loss \d+\.\d{4}, accuracy \d+/500 \(\d+\.\d{2}%\)", result.stdout)
    assert re.search(r"Test loss \d+\.\d{4}, accuracy \d+/10000 \(\d+\.\d{2}%\)", result.stdout)
    log = (run / "train.log").read_text()  # what the terminal showed, minus the progress bar
    for line in ("Total params: 17,216", "Epoch 1: test loss", "Test loss", "metrics in"):
        assert line in log and line in result.stdout, line
    assert "it/s" not in log
    assert (run / "checkpoints" / "last.ckpt").exists()
    recorded = json.loads((run / "metrics.json").read_text())["checkpoints"]
    assert recorded == {"last": str(run / "checkpoints" / "last.ckpt"), "best": None}
    assert not list(run.glob("checkpoints/best-*.ckpt"))  # validation is the test set: no model chosen on it

    events = EventAccumulator(str(run))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc", "train/lr"} <= tags
    assert events.Scalars("train/lr")[0].value == pytest.approx(0.003)
    metrics = json.loads((run / "metrics.json").read_text())
    assert events.Scalars("test/acc")[-1].value == metrics["test/acc"]


def test_multirun_gives_each_job_its_own_folder(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_here(TRAIN, "-m", "seed=1,2", "trainer.fast_dev_run=true", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seeds = [json.loads((sweep / job / "metrics.json").read_text())["seed"] for job in ("0", "1")]
    assert seeds == [1, 2]

    report = run_here("mnist_lightning.report", str(sweep), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    # Hydra's sweeper may write the boolean back as True; the report shows overrides as Hydra recorded them.
    # one batch of each stage: listed, but its accuracy is no result to pool (tests/test_report.py pools seeds)
    assert re.search(r"Overrides common to every job: `trainer.fast_dev_run=(true|True)`", report.stdout)
    assert "| 0 | seed=1 | smoke test (fast_dev_run), not a result |" in report.stdout
    assert "| 1 | seed=2 | smoke test (fast_dev_run), not a result |" in report.stdout
    assert "mean test acc" not in report.stdout  # no pooled row of one-batch accuracies
    assert (sweep / "report.md").read_text() == report.stdout.rstrip("\n") + "\n"
    assert (sweep / "report.csv").exists() and (sweep / "curves.png").stat().st_size > 0


def test_no_mnist_and_no_network_names_the_folder(tmp_path):
    (tmp_path / "empty").mkdir()  # a folder that exists: MNIST is downloaded into it (a missing one is refused first)
    result = run_here(TRAIN, f"data.data_dir={tmp_path}/empty", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert_clear_error(result, re.escape(f"MNIST is not in {tmp_path}/empty/MNIST/raw") + ".*put the four MNIST files")


def test_damaged_bundled_file_is_refused(tmp_path):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (BUNDLED_DATA_DIR / "MNIST" / "raw").glob("*.gz"):
        shutil.copy(gz, raw)
    damaged = bytearray((raw / "train-labels-idx1-ubyte.gz").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(bytes(damaged))
    result = run_here(TRAIN, f"data.data_dir={tmp_path}/data", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert_clear_error(result, "train-labels-idx1-ubyte.*(damaged|SHA-256)")


def test_network_over_budget_is_refused(tmp_path):
    result = run_here(TRAIN, "model.max_params=10000", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert_clear_error(result, r"17,216 parameters, over the budget model.max_params=10,000")


def test_batch_size_zero_is_refused(tmp_path):
    result = run_here(TRAIN, "data.batch_size=0", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert_clear_error(result, "data.batch_size must be a positive integer, got 0")


def test_unknown_config_option_is_refused(tmp_path):
    result = run_here(TRAIN, "model=nope", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    models = (
        "compact, fast, fast_v1, fast_v2, micro, nano, pico, pico6, pico_dilated, pico_expanded, pico_stack, "
        "reference, tiny"
    )
    assert_clear_error(result, f"there is no model 'nope': choose one of {models}")
    assert result.stderr.strip().count("\n") == 0  # one line, not Hydra's page of search paths
    sweep = run_here(TRAIN, "-m", "optimizer=adam,adamw", f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    assert_clear_error(sweep, r"there is no optimizer 'adamw': did you mean adam\? \(choose one of adam\)$")
    evaluate = run_here("mnist_lightning.evaluate", "ckpt_path=x.ckpt", "trainer=nope", cwd=tmp_path)
    assert_clear_error(evaluate, "there is no trainer 'nope': choose one of cpu, ddp, ddp_cpu, default, gpu")


@pytest.mark.parametrize("override", ["+experiment=nope", "data/augment=nope", "++model=nope"])
def test_unknown_options_of_any_group_and_any_prefix_are_refused(capsys, override):
    with pytest.raises(SystemExit) as exit_:
        check_group_choices([override])
    group = override.lstrip("+").split("=")[0]
    assert exit_.value.code == 2 and capsys.readouterr().err.startswith(f"error: there is no {group} 'nope'")
