"""The sweep report pools seeds per setting and lists unfinished jobs instead of dropping them."""

import json
import shutil
from pathlib import Path

import pytest

from mnist_lightning.base.errors import UserError
from mnist_lightning.report import accuracy_limits, curve_labels, main, report
from mnist_lightning.results.runs import find_jobs


def make_job(folder: Path, overrides: list[str], test_acc: float | None, started_in: Path | None = None) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if started_in is not None:  # where the run started and the folder it wrote to, as Hydra records them
        runtime = {"cwd": str(started_in), "output_dir": str(folder)}
        (folder / ".hydra" / "hydra.yaml").write_text(json.dumps({"hydra": {"runtime": runtime}}))
    if test_acc is not None:
        history = [{"epoch": 1, "val/acc": test_acc - 0.001}, {"epoch": 2, "val/acc": test_acc}]
        metrics = {"test/acc": test_acc, "val/acc_best": test_acc, "epoch_of_val_acc_best": 2, "params": 17216,
                   "epochs": 2, "train_seconds": 100.0, "history": history,
                   "provenance": {"git_commit": "abcdef0123456", "git_dirty": overrides[-1] == "seed=2"}}  # fmt: skip
        (folder / "metrics.json").write_text(json.dumps(metrics))


def test_seeds_are_pooled_and_failed_jobs_listed(tmp_path):
    make_job(tmp_path / "0", ["model.dropout=0.1", "seed=1"], 0.9940)
    make_job(tmp_path / "1", ["model.dropout=0.1", "seed=2"], 0.9950)
    make_job(tmp_path / "2", ["model.dropout=0", "seed=1"], 0.9930)
    make_job(tmp_path / "3", ["model.dropout=0", "seed=2"], None)
    text = report(tmp_path)
    assert "| 3 | model.dropout=0 seed=2 | unfinished (no metrics.json): running, stopped or failed |" in text
    assert "| 0 | model.dropout=0.1 seed=1 | done | 99.40 | 99.40 (2) | 2 | 17,216 | 2 | 100 | 50.0 | abcdef0 |" in text
    assert (
        "| 1 | model.dropout=0.1 seed=2 | done | 99.50 | 99.50 (2) | 1 | 17,216 | 2 | 100 | 50.0 | abcdef0 (dirty) |"
        in text
    )
    # mean 99.45, sample standard deviation of (99.40, 99.50) = 0.07
    assert "| model.dropout=0.1 | 2 | 99.45 | 0.07 | 99.40 | 99.50 |" in text
    assert "| model.dropout=0 | 1 | 99.30 | - | 99.30 | 99.30 |" in text
    assert (tmp_path / "curves.png").exists() and (tmp_path / "report.md").read_text() == text


def test_a_benchmark_folder_and_a_stopped_run_are_named_as_such(tmp_path):
    # A bench run and a run stopped by Ctrl-C both read "failed or running": a finished benchmark looked like a crash.
    make_job(tmp_path / "0", ["seed=1"], 0.9940)
    make_job(tmp_path / "bench", [], None)
    (tmp_path / "bench" / "bench.json").write_text("{}")
    make_job(tmp_path / "stopped", ["seed=2"], None)
    (tmp_path / "stopped" / "checkpoints").mkdir()
    (tmp_path / "stopped" / "checkpoints" / "last.ckpt").write_bytes(b"")
    text = report(tmp_path)
    assert "| bench | (defaults) | a benchmark (bench.json), not a training run |" in text
    unfinished = "unfinished (no metrics.json): running, stopped or failed"
    assert f"| stopped | seed=2 | {unfinished}; checkpoints/last.ckpt resumes it |" in text


def test_an_interrupted_run_says_where_it_stopped_and_is_not_pooled(tmp_path):
    # A Ctrl-C'd run writes metrics.json with status interrupted (train.py): its row says where, and how to go on.
    make_job(tmp_path / "0", ["seed=1"], 0.9940)
    for folder, resume in (("1", "python -m mnist_lightning.train seed=2 ckpt_path=/x/last.ckpt"), ("2", None)):
        make_job(tmp_path / folder, [f"seed={folder}"], None)
        stopped = {"stage": "fit", "epoch": 3, "step": 60, "checkpoint": resume and "/x/last.ckpt", "resume": resume}
        history = [{"epoch": 1, "val/acc": 0.97}, {"epoch": 2, "val/acc": 0.98}]
        record = {"status": "interrupted", "interrupted": stopped, "history": history, "seed": int(folder)}
        (tmp_path / folder / "metrics.json").write_text(json.dumps(record))
    text = report(tmp_path)
    assert (
        "| 1 | seed=1 | interrupted (Ctrl-C) in epoch 3; metrics.json's interrupted.resume is the command that" in text
    )
    assert "| 2 | seed=2 | interrupted (Ctrl-C) in epoch 3 |" in text
    assert "| (defaults) | 1 | 99.40 | - | 99.40 | 99.40 |" in text  # the finished run alone


def test_a_smoke_test_is_listed_but_not_pooled(tmp_path):
    make_job(tmp_path / "0", ["seed=1"], 0.9940)
    make_job(tmp_path / "1", ["seed=2"], 0.9950)
    make_job(tmp_path / "2", ["trainer.fast_dev_run=true", "seed=1"], 0.1000)
    make_job(tmp_path / "3", ["trainer.fast_dev_run=true", "seed=2"], 0.9990)  # one lucky batch
    # as this version records it, and as earlier ones did (only in the recorded config)
    for folder, marked in (("2", {"fast_dev_run": 1}), ("3", {"config": {"trainer": {"fast_dev_run": True}}})):
        metrics = json.loads((tmp_path / folder / "metrics.json").read_text())
        (tmp_path / folder / "metrics.json").write_text(json.dumps(metrics | marked))
    text = report(tmp_path)
    assert "| 2 | trainer.fast_dev_run=true seed=1 | smoke test (fast_dev_run), not a result |  |" in text
    assert text.count("2 of 4 runs have no per-epoch history to draw") == 1  # the smoke tests are not drawn either
    assert "| 3 | trainer.fast_dev_run=true seed=2 | smoke test (fast_dev_run), not a result |  |" in text
    assert "| (defaults) | 2 | 99.45 | 0.07 | 99.40 | 99.50 |" in text
    assert "| trainer.fast_dev_run=true |" not in text  # no mean of one-batch accuracies


def test_a_search_trials_plumbing_is_not_listed_as_its_setting(tmp_path):
    plumbing = ["+optuna_trial.storage='sqlite:///outputs/optuna.db'", "+optuna_trial.study='mnist'"]
    make_job(tmp_path / "0", ["optimizer.lr=0.004", *plumbing, "+optuna_trial.number=0", "seed=1"], 0.9940)
    make_job(tmp_path / "1", ["optimizer.lr=0.004", *plumbing, "+optuna_trial.number=1", "seed=2"], 0.9950)
    text = report(tmp_path)
    assert "optuna_trial" not in text
    assert "Overrides common to every job: `optimizer.lr=0.004`" in text  # once, above the tables
    assert "| 0 | seed=1 | done |" in text
    assert "| (the common overrides) | 2 | 99.45 |" in text  # pooled: the trial numbers no longer tell them apart


def test_common_overrides_leave_the_rows_also_when_one_holds_a_space_and_a_single_job_has_none(tmp_path):
    make_job(tmp_path / "0", ["tags=[a, b]", "seed=1"], 0.9940)
    make_job(tmp_path / "1", ["tags=[a, b]", "seed=2"], 0.9950)
    text = report(tmp_path)
    assert "Overrides common to every job: `tags=[a, b]`" in text and "| 0 | seed=1 | done |" in text
    single = tmp_path / "single"
    make_job(single / "0", ["seed=1"], 0.9940)
    assert "Overrides common" not in report(single) and "| 0 | seed=1 | done |" in report(single)


def test_a_run_resumed_from_its_own_checkpoint_pools_with_its_setting_and_another_checkpoint_does_not(tmp_path):
    # As a user gives it: relative to where the run started, or through ..; Hydra's record resolves it.
    own = f"ckpt_path={tmp_path.name}/s1/checkpoints/last.ckpt"
    make_job(tmp_path / "s1", ["model=pico", "seed=1", own], 0.9900, started_in=tmp_path.parent)
    make_job(tmp_path / "s2", ["model=pico", "seed=2"], 0.9920, started_in=tmp_path)
    own_via_parent = "ckpt_path=../s4/checkpoints/last.ckpt"
    make_job(tmp_path / "s4", ["model=pico", "seed=4", own_via_parent], 0.9910, started_in=tmp_path / "elsewhere")
    other = f"ckpt_path={tmp_path}/s2/checkpoints/last.ckpt"  # trained on from s2
    make_job(tmp_path / "s3", ["model=pico", "seed=3", other], 0.9930, started_in=tmp_path)
    same_name = "ckpt_path=s5/checkpoints/last.ckpt"  # from tmp_path: another run named s5, not b/s5 itself
    make_job(tmp_path / "b" / "s5", ["model=pico", "seed=5", same_name], 0.9940, started_in=tmp_path)
    text = report(tmp_path)
    assert "Overrides common to every job: `model=pico`" in text
    assert f"| s1 | seed=1 {own} | done |" in text  # the job's own row still shows it was resumed
    assert "| (the common overrides) | 3 | 99.10 |" in text  # s1, s2 and s4: one setting
    assert f"| {other} | 1 | 99.30 |" in text
    assert f"| {same_name} | 1 | 99.40 |" in text
    # A copy of the folders reads the same: the paths compared are the ones the runs recorded.
    copy = tmp_path.parent / f"{tmp_path.name}_copy"
    shutil.copytree(tmp_path, copy)
    assert "| (the common overrides) | 3 | 99.10 |" in report(copy)


def test_the_seconds_of_a_run_resumed_before_they_were_kept_add_up_its_processes():
    from mnist_lightning.results.runs import fit_seconds

    rows = [{"epoch": 1, "seconds": 50.0}, {"epoch": 2, "seconds": 100.0}, {"epoch": 3, "seconds": 45.0}]
    assert fit_seconds({"train_seconds": 47.0, "history": rows}) == 147.0  # resumed after epoch 2 (100 s)
    cumulative = [{"epoch": 1, "seconds": 50.0}, {"epoch": 2, "seconds": 100.0}, {"epoch": 3, "seconds": 145.0}]
    assert fit_seconds({"train_seconds": 147.0, "history": cumulative}) == 147.0  # today's: already the whole run
    assert fit_seconds({"train_seconds": 9.0, "history": []}) == 9.0  # a recipe that validates nothing


def test_a_folder_without_runs_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no Hydra runs"):
        report(tmp_path)
    with pytest.raises(UserError, match="nope does not exist: give a run or sweep folder"):
        report(tmp_path / "nope")
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(UserError, match="metrics.json is not a folder: give a run or sweep folder"):
        report(tmp_path / "metrics.json")


def test_the_command_answers_help_and_says_where_it_wrote(tmp_path, capsys):
    for flag in ("--help", "-h"):  # not taken for a folder named --help
        main([flag])
        assert capsys.readouterr().out.startswith("usage: python -m mnist_lightning.report <run or sweep folder>")
    make_job(tmp_path / "0", ["seed=1"], 0.9940)
    main([str(tmp_path)])
    out, err = capsys.readouterr()
    assert out.startswith(f"# Report: {tmp_path}")
    assert err.strip() == f"wrote {tmp_path / 'report.md'}, report.csv and curves.png beside it"
    assert all((tmp_path / name).is_file() for name in ("report.md", "report.csv", "curves.png"))


def test_curves_scale_to_a_sweep_far_below_99_percent_with_whole_legend_labels(tmp_path, monkeypatch):
    import matplotlib.axes

    # A 9-job, 1-epoch sweep at 68-89% drew an empty chart (y fixed at 98.5-100) with labels cut at 70 characters.
    shared = ["trainer.max_epochs=1", "trainer.limit_train_batches=50", "trainer.limit_val_batches=2"]
    for job, acc in enumerate([0.68, 0.71, 0.74, 0.77, 0.80, 0.83, 0.86, 0.88, 0.89]):
        make_job(tmp_path / str(job), [*shared, f"optimizer.lr=0.00{job + 1}", f"seed={job}"], acc)
    jobs = find_jobs(tmp_path)
    low, high = accuracy_limits([[100 * acc for _, acc in job.curve] for job in jobs])
    assert 60 < low < 67.9 and 89 < high < 95  # every point inside, no empty band up to 100
    assert curve_labels(jobs)[0] == "optimizer.lr=0.001 seed=0"  # whole; the shared overrides go in the title
    drawn_limits = []
    set_ylim = matplotlib.axes.Axes.set_ylim
    monkeypatch.setattr(
        matplotlib.axes.Axes, "set_ylim", lambda ax, *a, **k: drawn_limits.append(a) or set_ylim(ax, *a, **k)
    )
    report(tmp_path)
    assert (low, high) in drawn_limits  # the plot sets those limits (matplotlib also calls set_ylim itself)
    assert accuracy_limits([[99.1, 99.3]])[1] >= 99.4  # near the bar, the 99.40% line stays in view


def test_a_sweep_without_per_epoch_history_says_so_in_the_report(tmp_path):
    make_job(tmp_path / "0", ["experiment=fast", "seed=1"], 0.9940)
    metrics = json.loads((tmp_path / "0" / "metrics.json").read_text())
    (tmp_path / "0" / "metrics.json").write_text(json.dumps(metrics | {"history": []}))  # fast validates nothing
    assert "1 of 1 runs have no per-epoch history" in report(tmp_path)


def test_a_metrics_json_cut_short_is_listed_as_unreadable_not_a_traceback(tmp_path):
    # A run killed while writing it (before writes went through a renamed file) left half a JSON: JSONDecodeError
    make_job(tmp_path / "0", ["seed=1"], 0.9940)
    make_job(tmp_path / "1", ["seed=2"], None)
    (tmp_path / "1" / "metrics.json").write_text('{"status": "ok", "test/ac')
    text = report(tmp_path)
    assert "| 1 | seed=2 | unreadable |" in text and "| (defaults) | 1 | 99.40 |" in text


def test_metrics_json_is_written_whole_through_a_renamed_file(tmp_path):
    from mnist_lightning.run.record import write_metrics

    write_metrics(tmp_path, {"status": "ok"})
    write_metrics(tmp_path, {"status": "interrupted"})
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"status": "interrupted"}


def test_the_job_table_keeps_its_column_order_when_the_first_job_has_fewer_columns(tmp_path):
    # A first job skipped over its budget (status and params only) put `params` before the accuracies
    make_job(tmp_path / "0", ["seed=1"], None)
    skipped = {"status": "over_budget", "params": 25000, "max_params": 20000, "seed": 1}
    (tmp_path / "0" / "metrics.json").write_text(json.dumps(skipped))
    make_job(tmp_path / "1", ["seed=2"], 0.9940)
    header = next(line for line in report(tmp_path).splitlines() if line.startswith("| job |"))
    assert header.startswith("| job | overrides | status | test acc % | best val acc % (epoch) |"), header
