"""Failures are loud: a diverged run stops and says so (also inside a sweep and its report), and settings of the
wrong type or range stop the run in one line, leaving no run folder."""

import json
import re

import pytest
from conftest import assert_clear_error, run_module

from mnist_lightning.report import report

TRAIN = "mnist_lightning.train"
DIVERGES = "optimizer.lr=1e30"  # the first step sends the weights to inf: the loss is NaN from step 2 on
FEW_STEPS = ["trainer.max_epochs=2", "trainer.limit_train_batches=30", "trainer.limit_val_batches=1", "logger=none"]


def test_a_diverged_run_stops_in_its_first_epoch_and_says_so(tmp_path):
    run = tmp_path / "run"
    result = run_module(TRAIN, DIVERGES, *FEW_STEPS, f"hydra.run.dir={run}", cwd=tmp_path)
    assert_clear_error(result, r"training diverged at epoch 1, step \d+ \(loss nan\): lower optimizer.lr", code=1)
    assert "Test loss" not in result.stdout  # it stopped: no test of a NaN network
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["diverged"]["epoch"] == 1
    assert metrics["diverged"]["step"] <= 20 and "test/acc" not in metrics  # stopped within the first 20 steps


def test_in_a_sweep_the_other_jobs_run_and_the_report_marks_the_diverged_one(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "optimizer.lr=1e30,0.003", *FEW_STEPS, "trainer.max_epochs=1", f"hydra.sweep.dir={sweep}"]
    result = run_module(TRAIN, *args, cwd=tmp_path)
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
        ("model.dropout=abc", "model.dropout must be a number \\(like 0.05\\), got 'abc'"),
        ("trainer.max_epochs=2.5", "trainer.max_epochs must be an integer \\(like 20\\), got 2.5"),
    ],
)
def test_settings_of_the_wrong_type_or_range_stop_in_one_line_and_leave_no_run_folder(tmp_path, override, message):
    result = run_module(TRAIN, override, cwd=tmp_path)  # into outputs/ under tmp_path, as a user's run goes
    assert_clear_error(result, message)
    assert not list(tmp_path.rglob(".hydra")) and not list(tmp_path.rglob("*.log"))
