"""Failures are loud: a diverged run stops and says so (also inside a sweep and its report), and settings of the
wrong type or range stop the run in one line, leaving no run folder."""

import json
import re

import pytest
from conftest import assert_clear_error, run_here

from mnist_lightning.report import report

TRAIN = "mnist_lightning.train"
DIVERGES = "optimizer.lr=1e30"  # the first step sends the weights to inf: the loss is NaN from step 2 on
FEW_STEPS = ["trainer.max_epochs=2", "trainer.limit_train_batches=30", "trainer.limit_val_batches=1", "logger=none",
             "trainer.limit_test_batches=1"]  # fmt: skip


def test_a_diverged_run_stops_in_its_first_epoch_and_says_so(tmp_path):
    run = tmp_path / "run"
    long_epoch = ["trainer.max_epochs=2", "trainer.limit_train_batches=400", "logger=none"]
    result = run_here(TRAIN, DIVERGES, *long_epoch, f"hydra.run.dir={run}", cwd=tmp_path)
    assert_clear_error(result, r"training diverged at epoch 1, step \d+ \(loss nan\): lower optimizer.lr", code=1)
    # It stopped inside epoch 1 (of 400 steps, a few seconds), before validating, checkpointing or testing it.
    assert "Epoch 1:" not in result.stdout and "Test loss" not in result.stdout
    assert f"; {run / 'metrics.json'} has status diverged" in result.stderr  # where its record is, as a run's last line
    assert f"run folder: {run}" in result.stdout  # named before it trains, as every run's folder
    assert not (run / "checkpoints" / "last.ckpt").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["diverged"]["epoch"] == 1 and metrics["history"] == []
    assert metrics["diverged"]["step"] <= 20 and "test/acc" not in metrics


def test_in_a_sweep_the_other_jobs_run_and_the_report_marks_the_diverged_one(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "optimizer.lr=1e30,0.003", *FEW_STEPS, "trainer.max_epochs=1", f"hydra.sweep.dir={sweep}"]
    result = run_here(TRAIN, *args, cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "error: training diverged at epoch 1" in result.stderr
    statuses = [json.loads((sweep / job / "metrics.json").read_text())["status"] for job in ("0", "1")]
    assert statuses == ["diverged", "ok"]
    text = report(sweep)
    assert re.search(r"\| 0 \| optimizer.lr=1e\+?30 [^|]*\| diverged at epoch 1, step \d+ \|", text)
    assert re.search(r"\| 1 \| optimizer.lr=0.003 [^|]*\| done \|", text)
    settings = text.split("by setting")[1]  # the diverged job is not pooled as a result
    assert "optimizer.lr=0.003" in settings and "optimizer.lr=1e" not in settings


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_epochs=0", "trainer.max_epochs must be an integer of at least 1, got 0"),
        ("seed=abc", "seed must be an integer \\(like 1\\), got 'abc'"),
        ("experiment=tiny data.augment.degrees=abc", "data.augment.degrees must be a number \\(like 8.0\\), got 'abc'"),
        ("torch_threads=abc", r"torch_threads must be an integer \(like 1\) or null, got 'abc'"),
        ("trainer.precision=bf32", "trainer.precision must be one of auto, 32-true, bf16-mixed, .*, got 'bf32'"),
        ("model.dropout=1.5", r"model.dropout must be a number in \[0, 1\), got 1.5"),
    ],
)
def test_settings_of_the_wrong_type_or_range_stop_in_one_line_and_leave_no_run_folder(tmp_path, override, message):
    result = run_here(TRAIN, *override.split(), cwd=tmp_path)  # into outputs/ under tmp_path, as a user's run goes
    assert_clear_error(result, message)
    assert not list(tmp_path.rglob(".hydra")) and not list(tmp_path.rglob("*.log"))


def test_the_type_check_is_made_on_the_option_name_checks_compose_before_hydra_starts(tmp_path, monkeypatch):
    # A compose takes about half a second. The option-name check composes the config once, before torch loads, and
    # the type check is made on that one: a wrong type is refused there, before Hydra composes (twice) to run.
    from hydra._internal.hydra import Hydra

    composes = []
    compose_config = Hydra.compose_config
    monkeypatch.setattr(Hydra, "compose_config", lambda *a, **k: composes.append(1) or compose_config(*a, **k))
    result = run_here(TRAIN, "experiment=tiny", "data.augment.degrees=abc", cwd=tmp_path)
    assert_clear_error(result, r"data.augment.degrees must be a number \(like 8.0\), got 'abc'")
    assert len(composes) == 1
    # A user's own config folder: its config is composed with it, and its values' types are held to.
    mine = tmp_path / "mine" / "experiment"
    mine.mkdir(parents=True)
    (mine / "seven.yaml").write_text("# @package _global_\nseed: 7\n")
    composes.clear()
    result = run_here(TRAIN, "--config-dir", str(tmp_path / "mine"), "experiment=seven", "seed=x", cwd=tmp_path)
    assert_clear_error(result, r"seed must be an integer \(like 7\), got 'x'")
    assert len(composes) == 1
    # The ranges users type most, refused on the same compose (base/value_ranges.py), every value of a sweep before
    # its first job; a short recipe, so that a check moved back into the run fails fast instead of training.
    short = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "logger=none"]
    for overrides, message in [
        (["model.dropout=1.5"], r"model.dropout must be a number in \[0, 1\), got 1.5"),
        (["-m", "model.dropout=0.1,1.5"], r"model.dropout must be a number in \[0, 1\), got 1.5"),
        (["model.label_smoothing=1"], r"model.label_smoothing must be a number in \[0, 1\), got 1"),
        (["data.batch_size=0"], "data.batch_size must be a positive integer, got 0"),
        (["data.eval_batch_size=-3"], "data.eval_batch_size must be a positive integer, got -3"),
        (["torch_threads=0"], "torch_threads must be a positive integer or null, got 0$"),
        (
            ["trainer.limit_val_batches=2.5"],
            r"trainer.limit_val_batches must be a share of the batches in \[0.0, 1.0\], "
            "a whole number of batches or null, got 2.5$",
        ),
        (["trainer.limit_test_batches=abc"], "trainer.limit_test_batches must be a share .* got 'abc'$"),
        # Lightning's ValueError through Hydra's four lines, after the layer table, and a run folder left behind
        (
            ["trainer.fast_dev_run=yes"],
            r"trainer.fast_dev_run must be true, false or a number of batches .* got 'yes'$",
        ),
        (["trainer.fast_dev_run=-1"], r"trainer.fast_dev_run must be .* got -1$"),
        # Lightning's own check takes decay=1, which keeps the first step's weights for good
        (["experiment=nano_ema", "callbacks.ema.decay=1"], r"callbacks.ema.decay must be a number in \[0, 1\), got 1$"),
        (["experiment=nano_ema", "callbacks.ema.decay=1.5"], r"callbacks.ema.decay must be .* got 1.5$"),
        (
            ["experiment=nano_ema", "callbacks.ema.update_every_n_steps=0"],
            "callbacks.ema.update_every_n_steps must be a positive integer, got 0$",
        ),
    ]:
        composes.clear()
        assert_clear_error(run_here(TRAIN, *overrides, *short, cwd=tmp_path), message)
        assert len(composes) == 1, overrides


def test_a_refused_run_keeps_a_folder_the_user_named_and_accepts_values_lightning_takes(tmp_path):
    mine = tmp_path / "mine"  # hydra.run.dir may name a folder that existed before: it is never removed
    refused = "data.batch_size=70000"  # a limit the run checks, after Hydra made the folder (types, ranges before)
    assert_clear_error(
        run_here(TRAIN, refused, f"hydra.run.dir={mine}", cwd=tmp_path), "data.batch_size=70000 is larger"
    )
    assert (mine / ".hydra").is_dir()
    also_mine = tmp_path / "also_mine"  # named another way: kept too
    result = run_here(TRAIN, refused, f"++hydra.run.dir={also_mine}", cwd=tmp_path)
    assert_clear_error(result, "data.batch_size=70000 is larger")
    assert (also_mine / ".hydra").is_dir()
    # The Trainer's own arguments take other types than the shipped ones (Lightning checks them), and a float
    # setting may be given as an integer: none of these is refused.
    ok = ["trainer.devices=auto", "trainer.deterministic=warn", "scheduler=onecycle", "scheduler.div_factor=10",
          "trainer.limit_val_batches=2.0", "trainer.limit_test_batches=0.5", "torch_threads=null",
          "trainer.fast_dev_run=2", "logger=none", f"hydra.run.dir={tmp_path}/ok"]  # fmt: skip
    result = run_here(TRAIN, *ok, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_wrong_type_the_early_check_cannot_see_is_refused_by_the_run(tmp_path):
    # --config-name makes the early check stand aside (it composes only the command's own config): the run's own
    # type check (run/checks.py) still refuses in one line.
    result = run_here(TRAIN, "--config-name", "train", "seed=abc", cwd=tmp_path)
    assert_clear_error(result, r"seed must be an integer \(like 1\), got 'abc'")
    # The batch limits and torch_threads, which Lightning and torch would refuse after the layer table (evaluate
    # ignored torch_threads=0): train and evaluate check them with the early check's functions.
    result = run_here(TRAIN, "--config-name", "train", "trainer.limit_train_batches=-1", cwd=tmp_path)
    assert_clear_error(result, r"trainer.limit_train_batches must be a share .* got -1$")
    # '' from an interpolation reaches the run's own check of the path: it said "ckpt_path . is a folder"
    result = run_here(TRAIN, "+empty=''", "ckpt_path=${empty}", "trainer.fast_dev_run=true", cwd=tmp_path)
    assert_clear_error(result, r"ckpt_path is empty: give a file such as <run>/checkpoints/last.ckpt$")
    # (an interpolation: its value is known only in the run)
    result = run_here(TRAIN, "+mode=yes", "trainer.fast_dev_run=${mode}", cwd=tmp_path)
    assert_clear_error(result, r"trainer.fast_dev_run must be true, false or a number of batches .* got 'yes'$")
    args = ["--config-name", "evaluate", "ckpt_path=missing.ckpt", "torch_threads=0"]
    assert_clear_error(run_here("mnist_lightning.evaluate", *args, cwd=tmp_path), "torch_threads must be a positive")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["logger=mlflow", "+logger.mlflow.bogus=1"], r"logger.mlflow \(MLFlowLogger\) takes no option 'bogus' \("),
        (["experiment=tiny", "+data.augment.scale=0.1"], r"data.augment \(RandomAffine\) takes no option 'scale'"),
        (["+model.net.nope=1"], r"model.net \(ReferenceNet\) takes no option 'nope' \(dropout, num_classes\)$"),
        (
            ["experiment=pico6", "+model.net.net.widthz=3"],
            "takes no option 'widthz': did you mean model.net.net.widths",
        ),
        (
            ["+callbacks.last_checkpoint.save_lats=true"],
            "takes no option 'save_lats': did you mean callbacks.last_checkpoint.save_last\\?$",
        ),
    ],
)
def test_an_option_added_that_its_class_does_not_take_is_one_line(tmp_path, overrides, message):
    # Hydra's "Error in call to target ... unexpected keyword argument", after the layer table, before
    result = run_here(TRAIN, *overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert_clear_error(result, message)
    assert "Total params" not in result.stdout + result.stderr
