"""The benchmark runs from its command line and writes what it measured (no timing is asserted: CI is noisy)."""

import json

from conftest import assert_clear_error, run_here


def test_bench_measures_the_three_loops_and_writes_bench_json(tmp_path):
    args = ["repeats=1", "steps=3", "warmup_steps=1", "eval_repeats=1", "batch_sizes=[28]", "model=compact",
            "trainer.precision=auto"]  # fmt: skip
    result = run_here("mnist_lightning.bench", *args, f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "project/notebook" in result.stdout and "machine:" in result.stdout
    assert "Epoch " not in result.stdout + result.stderr  # the timed stretch's epoch lines would read as results
    bench = json.loads((tmp_path / "bench.json").read_text())
    stats = bench["train"]["28"]
    for loop in ("project", "bare", "notebook"):
        assert len(stats["all"][loop]) == 1 and stats[loop]["median"] > 0
        assert bench["eval"][loop]["median"] > 0
    assert stats["ratio_project_notebook"] == stats["project"]["median"] / stats["notebook"]["median"]
    assert bench["settings"]["model"]["net"]["_target_"] == "mnist_lightning.model.nets.CompactNet"
    assert bench["machine"]["cpu_count"] >= 1 and bench["device"] == "cpu"
    from mnist_lightning.run.precision import cpu_has_amx

    assert bench["settings"]["precision"] == ("bf16-mixed" if cpu_has_amx() else "32-true")  # what ran, not "auto"


def test_more_timed_steps_than_an_epoch_holds_is_one_clear_line(tmp_path):
    # batch 256 has 234 full steps per epoch: the project's loop would never reach its last timed step.
    result = run_here("mnist_lightning.bench", "batch_sizes=[28,256]", "warmup_steps=30", "steps=300",
                        f"hydra.run.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert_clear_error(result, r"warmup_steps \+ steps = 330 is more than the 234 steps of one epoch at batch size 256")


def test_options_bench_cannot_measure_are_one_line_before_anything_runs(tmp_path):
    # Each was a traceback (ZeroDivisionError, UnboundLocalError, StatisticsError, TypeError), or silently ignored
    cases = {
        "batch_sizes=[0]": r"batch_sizes must be a list of positive integers, like \[28,128\], got \[0\]$",
        "batch_sizes=28": r"batch_sizes must be a list of positive integers, like \[28,128\], got 28$",
        "steps=0": "steps must be a positive integer, got 0$",
        "repeats=0": "repeats must be a positive integer, got 0$",
        "eval_repeats=0": "eval_repeats must be a positive integer, got 0$",
        "warmup_steps=-1": "warmup_steps must be a whole number of 0 or more, got -1$",
        "ckpt_path=x.ckpt": "bench times fresh networks: remove ckpt_path",
    }
    for option, message in cases.items():
        result = run_here("mnist_lightning.bench", option, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
        assert_clear_error(result, message)
