"""Sweeps beyond a grid: Optuna's sweeper, the parallel joblib launcher, and run folders that never collide."""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
import yaml
from conftest import (
    CONF_DIR,
    assert_clear_error,
    compose_train_config,
    free_port,
    run_here,
    run_module,
    wait_until_answers,
)
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from mnist_lightning.run.build import torch_threads

TRAIN = "mnist_lightning.train"


def test_optuna_search_space_and_objective_come_from_config(tmp_path):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["hparams_search=optuna"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert set(sweeper.params) == {"optimizer.lr", "scheduler.gamma", "model.dropout", "data.batch_size"}
    assert cfg.optimized_metric == "val/acc" and cfg.data.val_size == 5000 and sweeper.n_trials == 20


def test_optuna_study_is_kept_and_the_same_command_resumes_it_with_new_parameter_sets(tmp_path):
    args = ["hparams_search=optuna", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
            "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "logger=none"]  # fmt: skip
    first, second = tmp_path / "first", tmp_path / "second"
    result = run_here(TRAIN, *args, "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={first}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "outputs" / "optuna.db").is_file()  # the default store: under outputs/, kept
    result = run_here(TRAIN, *args, "hydra.sweeper.n_trials=4", f"hydra.sweep.dir={second}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 of 4 trials finished" in result.stdout  # resumed: the first two count
    storage = f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}"
    study = optuna.load_study(study_name="mnist", storage=storage)
    assert [t.number for t in study.trials] == [0, 1, 2, 3] and all(t.state.name == "COMPLETE" for t in study.trials)
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 4  # no parameter set twice
    assert sorted(p.name for p in second.iterdir() if p.name.isdigit()) == ["2", "3"]  # job folders: trial numbers
    trials = [json.loads((folder / job / "metrics.json").read_text()) for folder, job in ((first, "0"), (second, "3"))]
    assert all(not t["val_is_test"] for t in trials)  # held-out images, not the test set ...
    best = yaml.safe_load((second / "optimization_results.yaml").read_text())
    assert best["best_value"] == study.best_value and best["best_trial"] == study.best_trial.number
    assert set(best["best_params"]) == {"optimizer.lr", "scheduler.gamma", "model.dropout", "data.batch_size"}
    # One line per finished trial, the best at the end, and none of Optuna's or alembic's own INFO lines.
    assert len([line for line in result.stdout.splitlines() if "] trial " in line and " complete: " in line]) == 2
    assert "best: trial" in result.stdout and "alembic" not in result.stdout + result.stderr
    # The log line's values to 3 significant digits (optimizer.lr=0.002319434778599477 before); the file has them all.
    lr = re.search(r"best: trial \d, [\d.]+ \| optimizer.lr=(\S+) .*\(in full: (.*)\)$", result.stdout, re.M)
    assert (
        lr
        and lr[1] == f"{best['best_params']['optimizer.lr']:.3g}"
        and lr[2] == str(second / "optimization_results.yaml")
    )
    report_line = f"sweep done, this command's trials in {second}; tables and curves: python -m mnist_lightning.report"
    assert result.stdout.strip().splitlines()[-1] == f"{report_line} {second}"
    # The same study with another training setting: refused before any trial, the study as it was.
    other = [*args[:2], "trainer.limit_train_batches=2", *args[3:], "hydra.sweeper.n_trials=6"]
    result = run_here(TRAIN, *other, f"hydra.sweep.dir={tmp_path / 'third'}", cwd=tmp_path)
    assert_clear_error(result, r"study 'mnist' in .*: trial \d trained with .*trainer.limit_train_batches=3.* and this")
    assert "trainer.limit_train_batches=2" in result.stderr and "hydra.sweeper.study_name=<new name>" in result.stderr
    assert len(optuna.load_study(study_name="mnist", storage=storage).trials) == 4
    # Settings that change no trial (threads, the logger) are not refused: the finished study runs nothing more.
    result = run_here(TRAIN, *args[:-1], "logger=csv", "torch_threads=1", "hydra.sweeper.n_trials=4", cwd=tmp_path)
    assert result.returncode == 0 and "4 of 4 trials finished" in result.stdout, result.stderr
    assert "sweep done" not in result.stdout  # no trial ran: its folder holds nothing to report on
    assert "nothing to run: raise hydra.sweeper.n_trials (now 4) to add trials to the study" in result.stdout
    # The same study with another search space: the sampler would mix both (or, for a changed choice, fail inside
    # Optuna and leave a trial running for good). Refused before any trial.
    space = "hydra.sweeper.params={data.batch_size:'choice(32,64)'}"
    result = run_here(TRAIN, *args, space, "hydra.sweeper.n_trials=6", f"hydra.sweep.dir={tmp_path}/4", cwd=tmp_path)
    assert_clear_error(result, r"study 'mnist' in .*: trial 0 was drawn from another search space \(it differs in "
                       r"data.batch_size\); resume with the space")  # fmt: skip
    assert len(optuna.load_study(study_name="mnist", storage=storage).trials) == 4


def test_a_pruned_trial_stops_after_its_epoch_and_the_report_says_so(tmp_path):
    from mnist_lightning.report import report

    sweep = tmp_path / "pruned"
    # A pruner that stops every trial at its first report: the path from the trial's run to the study is the test.
    pruner = ["hydra.sweeper.pruner=null", "hydra.sweeper.pruner={_target_:optuna.pruners.ThresholdPruner,lower:1.1}"]
    args = ["hparams_search=optuna", *pruner, "hydra.sweeper.n_trials=2", "trainer.max_epochs=3",
            "trainer.limit_train_batches=3", "trainer.limit_val_batches=1", "logger=none"]  # fmt: skip
    result = run_here(TRAIN, *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="mnist", storage=f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}")
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]  # finished: they count toward n_trials
    assert [list(t.intermediate_values) for t in study.trials] == [[1], [1]]  # reported epoch 1, then stopped
    metrics = json.loads((sweep / "0" / "metrics.json").read_text())
    assert metrics["status"] == "pruned" and metrics["pruned"]["epoch"] == 1 and "test/acc" not in metrics
    assert "| pruned at epoch 1, step 3 |" in report(sweep)
    assert "trial 0 pruned: after epoch 1 (val/acc " in result.stdout and "Error executing job" not in result.stderr
    # Searching for the best epoch's val/acc (which a run has only once it ends): its trials report the best so far.
    best = ["optimized_metric=val/acc_best", "hydra.sweeper.study_name=best", "hydra.sweeper.n_trials=1"]
    result = run_here(TRAIN, *args, *best, f"hydra.sweep.dir={tmp_path}/best", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trial = optuna.load_study(study_name="best", storage=f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}").trials[0]
    assert trial.state.name == "PRUNED" and "trial 0 pruned: after epoch 1 (val/acc_best " in result.stdout


def test_the_onecycle_search_runs_on_experiment_fast_and_validates_on_held_out_images(tmp_path):
    sweep = tmp_path / "onecycle"
    args = ["experiment=fast", "hparams_search=optuna_onecycle", "hydra.sweeper.n_trials=1", "logger=none",
            "trainer.limit_train_batches=2", "trainer.max_epochs=1", "trainer.limit_test_batches=1"]  # fmt: skip
    result = run_here(TRAIN, *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trial = json.loads((sweep / "0" / "metrics.json").read_text())
    assert trial["status"] == "ok" and not trial["val_is_test"] and trial["val/acc"] is not None
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {"scheduler.max_lr", "data.batch_size", "model.label_smoothing", "model.dropout"}
    assert best["best_value"] == trial["val/acc"]


@pytest.mark.parametrize(
    ("recipe", "search", "key", "scheduler"),
    [("experiment=fast", "hparams_search=optuna", "scheduler.gamma", "onecycle"),
     ("seed=1", "hparams_search=optuna_onecycle", "scheduler.max_lr", "exponential")],
)  # fmt: skip
def test_a_search_over_a_key_the_recipe_lacks_is_one_line_before_any_trial(tmp_path, recipe, search, key, scheduler):
    # Hydra refused the key only when composing the first trial's job: five lines of its own, trial 0 left RUNNING
    # in the study and an empty sweep folder.
    storage, sweep = tmp_path / "study.db", tmp_path / "sweep"
    args = [recipe, search, f"hydra.sweeper.storage=sqlite:///{storage}", f"hydra.sweep.dir={sweep}"]
    result = run_here(TRAIN, *args, cwd=tmp_path)
    assert_clear_error(result, f"names {key}, which this run's config does not have \\(scheduler={scheduler} has no ")
    assert not storage.exists() and not sweep.exists()


def test_a_sweep_on_the_command_line_of_a_search_is_one_line(tmp_path):
    result = run_here(TRAIN, "hparams_search=optuna", "optimizer.lr=0.1,0.2", cwd=tmp_path)
    assert_clear_error(result, "optimizer.lr=0.1,0.2: a search sweeps hydra.sweeper.params only")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # data.val_size=0 with optimized_metric=val/acc: every trial would refuse it, after the study handed it out
        (["data.val_size=0"], "optimized_metric=val/acc with data.val_size=0 would select on the test set"),
        (["optimized_metric=test/acc"], "optimized_metric=test/acc would choose among the trials on the test set"),
        # a batch of no trials, asked for again and again: the search never ended
        (["hydra.sweeper.n_jobs=0"], "hydra.sweeper.n_jobs must be an integer of at least 1, got 0"),
        (["hydra.sweeper.n_trials=-1"], "hydra.sweeper.n_trials must be an integer of at least 0, got -1"),
        # Hydra's "Error in call to target" when the sweeper was built
        (["hydra.sweeper.params={model.dropout:'interval(0.3,0.1)'}"], r"hydra.sweeper.params.model.dropout=interval"),
        (["hydra.sweeper.params={model.dropout:'0.1'}"], r"model.dropout=0.1: use interval\(a, b\), choice"),
        (["hydra.sweeper.params={model.dropout:'interval(0.1)'}"], r"params.model.dropout=interval\(0.1\): "),
        # Trials scored by other metrics do not compare, and test/acc chose on the test set under val/acc's name
        (
            ["+hydra.sweeper.params.optimized_metric='choice(test/acc)'"],
            "hydra.sweeper.params chooses optimized_metric",
        ),
    ],
)
def test_a_search_refused_by_the_runs_own_checks_is_refused_before_its_study_opens(tmp_path, overrides, message):
    storage = tmp_path / "study.db"
    args = ["hparams_search=optuna", *overrides, f"hydra.sweeper.storage=sqlite:///{storage}"]
    result = run_here(TRAIN, *args, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert_clear_error(result, message)
    assert not storage.exists() and not (tmp_path / "sweep").exists()


def test_a_search_whose_trials_keep_failing_stops_and_an_in_memory_study_is_refused(tmp_path, monkeypatch):
    # Failed trials do not count toward n_trials: a fault every trial meets (a user's error ends the search at once;
    # this is another exception, as a storage that a trial's process cannot reach raised) asked for new ones without
    # end.
    calls = []

    def broken(cfg, callbacks=()):  # fails, fails, trains (the count starts again), then fails for good
        calls.append(1)
        if len(calls) == 3:
            return {"val/acc": 0.5}
        raise KeyError("Record does not exist.")

    monkeypatch.setattr("mnist_lightning.train.train", broken)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["hparams_search=optuna", "hydra.sweeper.n_trials=10", f"hydra.sweeper.storage={storage}",
            f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    result = run_here(TRAIN, *args, cwd=tmp_path)
    assert_clear_error(result, "3 trials in a row failed .*: fix what they fail on, then run the same command")
    states = [t.state.name for t in optuna.load_study(study_name="mnist", storage=storage).trials]
    assert states == ["FAIL", "FAIL", "COMPLETE", "FAIL", "FAIL", "FAIL"]
    # Each trial's process would open an empty in-memory database of its own (a KeyError in every trial).
    for memory in ("sqlite://", "sqlite:///", "sqlite:///:memory:"):
        result = run_here(TRAIN, "hparams_search=optuna", f"hydra.sweeper.storage={memory}", cwd=tmp_path)
        assert_clear_error(result, f"hydra.sweeper.storage={memory} is an in-memory database")


def test_a_storage_whose_driver_is_missing_is_one_line_at_once(tmp_path, monkeypatch):
    result = run_here(
        TRAIN, "hparams_search=optuna", "hydra.sweeper.storage=mysql://user@127.0.0.1/optuna", cwd=tmp_path
    )
    assert_clear_error(result, "cannot open hydra.sweeper.storage=mysql://user@127.0.0.1/optuna: ")

    # At once: the retries (1-2 s each) are for a database racing to make its tables, not for a missing driver.
    # Checked by the sleeps, not by the wall time, which swings with the machine's load (7.4 s once in CI).
    from hydra_plugins.mnist_optuna_sweeper import sweeper as sweeper_module

    sleeps = []
    monkeypatch.setattr(sweeper_module, "time", SimpleNamespace(sleep=sleeps.append))
    worker = sweeper_module.OptunaSweeper(
        "mysql://user@127.0.0.1/optuna", "s", n_trials=1, n_jobs=1, direction="maximize", sampler=None, params={}
    )
    with pytest.raises(sweeper_module.SearchError, match="cannot open hydra.sweeper.storage=mysql://"):
        worker.open_study()
    assert sleeps == []


@pytest.mark.system
def test_a_database_that_does_not_answer_is_one_line(tmp_path):
    storage = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"  # nothing listens there
    result = run_here(TRAIN, "hparams_search=optuna", f"hydra.sweeper.storage={storage}", cwd=tmp_path)
    assert_clear_error(result, f"cannot open hydra.sweeper.storage={re.escape(storage)}: .*[Cc]onnection refused")


@pytest.mark.parametrize(
    ("storage", "shown"),
    [("postgresql+psycopg://user:s3cret@db-host/optuna", "psycopg://user:***@db-host/optuna holds a password"),
     ("postgresql+psycopg://user@db-host/optuna?password=s3cret", "psycopg://user@db-host/optuna?... holds"),
     ("postgresql+psycopg://user:s3cret@db-host:port/optuna", "psycopg://user:***@db-host:port/optuna is not")],
)  # fmt: skip
def test_a_storage_url_with_a_password_is_refused_without_showing_it(tmp_path, storage, shown):
    result = run_here(TRAIN, "hparams_search=optuna", f"hydra.sweeper.storage='{storage}'", cwd=tmp_path)
    assert_clear_error(result, re.escape(shown))
    assert "s3cret" not in result.stdout + result.stderr


def search_with_space(tmp_path: Path, params: dict[str, str], n_trials: int) -> list[str]:
    """The command-line words of hparams_search=optuna with its space replaced by `params`, as a user's --config-dir
    preset; a study and sweep folder in `tmp_path`, trials of a few steps."""
    conf = tmp_path / "my_conf" / "hparams_search"
    conf.mkdir(parents=True)
    preset = yaml.safe_load((CONF_DIR / "hparams_search" / "optuna.yaml").read_text())
    preset["hydra"]["sweeper"]["params"] = params
    (conf / "mine.yaml").write_text("# @package _global_\n" + yaml.safe_dump(preset))
    return ["--config-dir", str(tmp_path / "my_conf"), "hparams_search=mine", f"hydra.sweeper.n_trials={n_trials}",
            f"hydra.sweeper.storage=sqlite:///{tmp_path / 'study.db'}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
            "trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1", "logger=none"]  # fmt: skip


@pytest.mark.system  # a trial of its own: the fast suite stays under 4 minutes
def test_a_space_that_chooses_a_config_group_is_not_checked_against_the_recipes_keys(tmp_path):
    # scheduler: choice(onecycle) brings scheduler.max_lr, which the default recipe's exponential schedule lacks:
    # refusing it, as a plain key of another schedule is, would refuse a search that runs.
    space = {"scheduler": "choice(onecycle)", "scheduler.max_lr": "interval(0.01, 0.02)"}
    result = run_here(TRAIN, *search_with_space(tmp_path, space, n_trials=1), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trial = json.loads((tmp_path / "sweep" / "0" / "metrics.json").read_text())
    assert trial["config"]["scheduler"]["_target_"] == "torch.optim.lr_scheduler.OneCycleLR"


@pytest.mark.system  # a trial of its own: the fast suite stays under 4 minutes
def test_a_search_that_runs_out_of_new_sets_still_writes_its_best(tmp_path):
    # One parameter set in all: trial 0 runs, then the space is exhausted; its result file was not written.
    result = run_here(TRAIN, *search_with_space(tmp_path, {"data.batch_size": "choice(28)"}, n_trials=3), cwd=tmp_path)
    assert_clear_error(result, "the search space has few or none left")
    best = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert best["best_trial"] == 0 and best["best_params"] == {"data.batch_size": 28}


@pytest.mark.system  # the fast suite stays under 4 minutes
def test_a_search_whose_launcher_refuses_leaves_no_trial_running(tmp_path):
    # The SLURM launcher refuses a sweep without a partition (exit 2) after the search asked trial 0: left running,
    # every other worker counted it as taken until a restart on this machine marked it failed.
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason='needs the extra: pip install -e ".[cluster]"')
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["hparams_search=optuna", "hydra/launcher=submitit_slurm", f"hydra.sweeper.storage={storage}"]
    result = run_here(TRAIN, *args, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert_clear_error(result, "hydra.launcher.partition is not set")
    assert [t.state.name for t in optuna.load_study(study_name="mnist", storage=storage).trials] == ["FAIL"]


def test_a_search_key_added_with_plus_is_not_refused(tmp_path):
    config = compose_train_config(tmp_path, [])  # first: Hydra's plugin scan runs the sweeper's module again
    from hydra_plugins.mnist_optuna_sweeper.sweeper import OptunaSweeper, SearchError

    params = {"+model.net.crop": "choice(1, 2)", "model.nope": "choice(1)"}
    worker = OptunaSweeper(
        f"sqlite:///{tmp_path / 'study.db'}", "plus", n_trials=1, n_jobs=1, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=1), params=params,
    )  # fmt: skip
    worker.config = config
    with pytest.raises(SearchError, match="names model.nope, which .* change hydra.sweeper.params"):
        worker.check_space()
    del worker.space["model.nope"]
    worker.check_space()  # +model.net.crop adds a key: not checked


@pytest.mark.system
def test_joblib_jobs_run_in_parallel_and_share_the_cores(tmp_path):
    # joblib's workers limit their own threads too, so this run alone would not see the project's logic
    # break: the next test checks that logic directly.
    sweep = tmp_path / "joblib"
    args = ["-m", "seed=1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "trainer.fast_dev_run=true"]
    result = run_module(TRAIN, *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)  # the jobs' own lines too
    assert result.returncode == 0, result.stderr
    for job in ("0", "1"):  # the jobs' lines interleave: each says whose it is
        assert f"[job {job}] Test loss " in result.stdout and f"[job {job}] run folder: {sweep / job}" in result.stdout
    # The sweep ends naming its folder and the command that reports on it (hydra/default.yaml's callback).
    last_line = f"sweep done, jobs in {sweep}; tables and curves: python -m mnist_lightning.report {sweep}"
    assert result.stdout.strip().splitlines()[-1] == last_line
    threads = [json.loads((sweep / job / "metrics.json").read_text())["torch_threads"] for job in ("0", "1")]
    assert threads == [max(1, len(os.sched_getaffinity(0)) // 2)] * 2
    # At once: each job's log starts before the other's ends (one after another, the second would start later)
    spans = []
    for job in ("0", "1"):
        stamps = re.findall(
            r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", (sweep / job / "train.log").read_text(), re.M
        )
        spans.append((stamps[0], stamps[-1]))
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], spans


@pytest.mark.parametrize(("n_jobs", "trainer", "processes"), [(2, "default", 2), (-1, "default", 0), (2, "ddp_cpu", 4)])
def test_threads_are_the_cores_shared_among_parallel_processes(tmp_path, monkeypatch, n_jobs, trainer, processes):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))  # shares that differ from one another
    launcher = SimpleNamespace(launcher={"n_jobs": n_jobs})
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: launcher))
    cfg = compose_train_config(tmp_path, [f"trainer={trainer}"])
    assert torch_threads(cfg) == (16 // processes if processes else 1)  # n_jobs=-1: one job per core


@pytest.mark.system
def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    command = [sys.executable, "-m", TRAIN, "trainer.fast_dev_run=true", "logger=none"]
    runs = [
        subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)
    ]
    assert [run.wait(timeout=120) for run in runs] == [0, 0]
    folders = list((tmp_path / "outputs").glob("*/*/.hydra"))
    assert len(folders) == 2


def test_threads_follow_torch_threads_when_set(tmp_path):
    cfg = compose_train_config(tmp_path, ["torch_threads=1"])
    assert not HydraConfig.initialized() and torch_threads(cfg) == 1


def test_slurm_launcher_config_requeues_at_the_time_limit_and_checks_the_partition():
    overrides = ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=30"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.mnist_submitit.launchers.CheckedSlurmLauncher"
    assert (launcher.partition, launcher.timeout_min, launcher.gpus_per_node) == ("gpu", 30, None)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        default = compose("train", overrides=["hydra/launcher=submitit_slurm"], return_hydra_config=True)
    assert default.hydra.launcher.partition is None  # refused at launch, in one line (tests/test_cluster.py)
    # The plugin's default of 0 would end a job at its time limit for good (tests/test_cluster.py requeues one).
    assert launcher.max_num_timeout >= 1 and launcher.signal_delay_s > 0


def test_cpu_ddp_processes_share_the_cores(tmp_path):
    cfg = compose_train_config(tmp_path, ["trainer=ddp_cpu"])
    assert torch_threads(cfg) == max(1, len(os.sched_getaffinity(0)) // 2)


SEARCH = ["hparams_search=optuna", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
          "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "logger=none"]  # fmt: skip


def finished_trials(storage: str) -> list:
    study = optuna.load_study(study_name="mnist", storage=storage)
    return [t for t in study.trials if t.state.name == "COMPLETE"]


@pytest.mark.system
def test_a_search_killed_mid_trial_resumes_keeping_its_finished_trials(tmp_path, monkeypatch):
    from conftest import run_module

    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    )
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    kill = ["+callbacks.kill._target_=ctrl_c.KillTheSecondTrial", f"+callbacks.kill.counter={tmp_path / 'count'}"]
    args = [*SEARCH, *kill, f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=3"]
    killed = run_module(TRAIN, *args, f"hydra.sweep.dir={tmp_path / 'a'}", cwd=tmp_path)
    assert killed.returncode == -9, killed.stderr  # SIGKILL, in trial 1
    study = optuna.load_study(study_name="mnist", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "RUNNING"]  # what a dead driver leaves
    resumed = run_module(TRAIN, *args, f"hydra.sweep.dir={tmp_path / 'b'}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "trial 1: its worker" in resumed.stdout and "1 of 3 trials finished" in resumed.stdout
    study = optuna.load_study(study_name="mnist", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    done = finished_trials(storage)
    assert len(done) == 3 and len({tuple(sorted(t.params.items())) for t in done}) == 3


@pytest.mark.system
def test_ctrl_c_in_a_search_trial_says_to_run_the_search_again_and_that_goes_on(tmp_path, monkeypatch):
    # The trial's own command (its overrides and ckpt_path) would open the default study, not this one: it was the
    # advice until 0.5.0. Ctrl-C at the start of trial 0's second epoch, sent by the run itself (tests/ctrl_c.py).
    from conftest import run_module

    from mnist_lightning.report import report_tables

    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    )
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = [f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=cc", "hydra.sweeper.n_trials=2"]
    args = [*SEARCH, "trainer.max_epochs=2", *study]
    ctrl_c = ["+callbacks.ctrl_c._target_=ctrl_c.CtrlCAt", "+callbacks.ctrl_c.epoch=1"]
    stopped = run_module(TRAIN, *args, *ctrl_c, f"hydra.sweep.dir={tmp_path / 'a'}", cwd=tmp_path)
    assert stopped.returncode == 130, stopped.stderr
    lines = [line for line in stopped.stderr.splitlines() if line.startswith("interrupted: ")]
    assert lines == [
        f"interrupted: in epoch 2 of a trial of the Optuna search in study 'cc' in {storage}; run the search's "
        "command again to go on: this trial is marked failed, the finished ones are kept"
    ], stopped.stderr
    record = json.loads((tmp_path / "a" / "0" / "metrics.json").read_text())
    assert record["status"] == "interrupted" and record["interrupted"]["search"] == {"study": "cc", "storage": storage}
    assert "interrupted (Ctrl-C) in epoch 2; the search's command, run again, goes on" in report_tables(tmp_path / "a")
    again = run_module(TRAIN, *args, f"hydra.sweep.dir={tmp_path / 'b'}", cwd=tmp_path)  # the search's command
    assert again.returncode == 0, again.stderr
    trials = optuna.load_study(study_name="cc", storage=storage).trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "COMPLETE"]


@contextlib.contextmanager
def postgresql_server(password: str | None = None):
    """A PostgreSQL server of its own (Debian's `postgresql`): initdb in a temporary folder, a free local port,
    stopped and removed at the end; its URL names no password. With `password`, the server asks for it (scram)."""
    import tempfile

    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        pytest.skip("no PostgreSQL server here: apt-get install postgresql (.ci/run does)")
    bin_dir = bins[-1].parent
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses to run as root
    data = Path(tempfile.mkdtemp(prefix="mnist-pg-"))
    if as_postgres:
        shutil.chown(data, "postgres")
    port = free_port()
    run = lambda *cmd: subprocess.run([*as_postgres, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    auth = ["--auth=trust"]
    if password is not None:
        (data / "pw").write_text(password)
        if as_postgres:
            shutil.chown(data / "pw", "postgres")
        auth = ["--auth=scram-sha-256", f"--pwfile={data / 'pw'}"]
    run(str(bin_dir / "initdb"), "-D", str(data / "db"), *auth, "-U", "postgres")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-o", options, "-l", str(data / "log"), "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def postgresql_url():
    with postgresql_server() as url:
        yield url


@pytest.mark.system
def test_a_database_password_comes_from_pgpassword_never_from_the_url(tmp_path, monkeypatch):
    # Hydra saves the command line into every run folder: a password in the URL is refused before the study opens,
    # and the one the documentation gives instead, PGPASSWORD (libpq's), runs a search on a server that asks for it.
    with postgresql_server(password="s3cret-pw") as url:
        monkeypatch.delenv("PGPASSWORD", raising=False)
        with pytest.raises(Exception, match="password"):  # the server does ask: no password, no connection
            optuna.storages.RDBStorage(url)
        args = [*SEARCH, "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
        with_password = url.replace("postgres@", "postgres:s3cret-pw@")
        refused = run_here(TRAIN, *args, f"hydra.sweeper.storage={with_password}", cwd=tmp_path)
        assert_clear_error(refused, "holds a password, which Hydra would save into every run folder: .* PGPASSWORD")
        assert "s3cret-pw" not in refused.stdout + refused.stderr and not (tmp_path / "sweep").exists()
        monkeypatch.setenv("PGPASSWORD", "s3cret-pw")
        result = run_here(TRAIN, *args, f"hydra.sweeper.storage={url}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert len(finished_trials(url)) == 1


@pytest.mark.system
@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_two_workers_started_at_once_share_one_study(tmp_path, request, store):
    storage = f"sqlite:///{tmp_path / 'study.db'}" if store == "sqlite" else request.getfixturevalue("postgresql_url")
    args = [*SEARCH, f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=4", "torch_threads=1"]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", TRAIN, *args, f"hydra.sweep.dir={tmp_path / str(w)}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for w in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    done = finished_trials(storage)
    assert sorted(t.number for t in done) == sorted({t.number for t in done}) and len(done) == 4
    assert len({tuple(sorted(t.params.items())) for t in done}) == 4  # no parameter set evaluated twice
    ran = [sorted(p.name for p in (tmp_path / str(w)).iterdir() if p.name.isdigit()) for w in range(2)]
    assert all(ran) and sorted(ran[0] + ran[1]) == sorted(str(t.number) for t in done)  # both worked


@pytest.mark.system
@pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="no Chromium here: apt-get install chromium chromium-driver",
)
def test_optuna_dashboard_shows_a_study_in_a_browser(tmp_path):

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="mnist_dashboard_check", storage=storage, direction="maximize")
    for lr in (0.001, 0.003, 0.01):  # three finished trials, as the sweeper tells them
        trial = study.ask({"optimizer.lr": optuna.distributions.FloatDistribution(0.0005, 0.02, log=True)})
        study.tell(trial, 0.99 - abs(lr - 0.003))
    port = free_port()
    dashboard_script = Path(sys.executable).with_name("optuna-dashboard")  # this environment's, activated or not
    command = [str(dashboard_script), storage, "--port", str(port), "--host", "127.0.0.1"]
    dashboard = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    browser = None
    try:
        url = f"http://127.0.0.1:{port}/dashboard"
        wait_until_answers(url, dashboard, seconds=30)
        browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        browser.get(url)
        wait = WebDriverWait(browser, 30)
        wait.until(lambda b: "mnist_dashboard_check" in b.find_element("tag name", "body").text)
        browser.get(f"{url}/studies/{study._study_id}/trials")
        wait.until(lambda b: "optimizer.lr" in b.find_element("tag name", "body").text)  # the trials' parameters
    finally:
        if browser is not None:
            browser.quit()
        dashboard.terminate()
        dashboard.wait(timeout=10)


def race_workers(tmp_path, samplers: list) -> tuple[list, list]:
    """Two workers on one new study, each with its own sampler (the same seed: the same first draw)."""
    from hydra_plugins.mnist_optuna_sweeper.sweeper import OptunaSweeper

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    params = {"optimizer.lr": "interval(0.0005, 0.02)", "model.dropout": "interval(0.0, 0.2)"}
    workers = [
        OptunaSweeper(storage, "race", n_trials=4, n_jobs=1, direction="maximize", sampler=sampler, params=params)
        for sampler in samplers
    ]
    return workers, [worker.open_study() for worker in workers]


class HeldSampler(optuna.samplers.TPESampler):
    """TPE's draws, held until `release` is set: a worker caught after Optuna numbered its trial, mid-draw."""

    def __init__(self, release: threading.Event, **kwargs) -> None:
        super().__init__(**kwargs)
        self.release = release

    def sample_independent(self, *args, **kwargs):
        assert self.release.wait(timeout=10), "never released"
        return super().sample_independent(*args, **kwargs)


def ask_while_worker_0_is_held(workers: list, studies: list) -> tuple:
    """Worker 0 asks in a thread (its HeldSampler holds the draw once Optuna has numbered trial 0), then worker 1
    asks here; both trials, once worker 0 is released."""
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(workers[0].ask_new, studies[0])
        while not studies[1].get_trials(deepcopy=False):  # trial 0 numbered, its draw held
            time.sleep(0.01)
        second = workers[1].ask_new(studies[1])
        return held.result(timeout=30), second


def test_two_workers_that_draw_the_same_parameters_at_once_evaluate_them_once(tmp_path, monkeypatch):
    # Two workers started at once on a new study: the same seed, so the same first draw, and each asks before it
    # can see the other's trial. The one whose trial Optuna numbered first keeps it; the other fails its copy
    # (never trained), reseeds and draws another.
    workers, studies = race_workers(tmp_path, [optuna.samplers.TPESampler(seed=7) for _ in range(2)])
    first, ask = [], studies[1].ask

    def ask_while_the_other_worker_asks(*args, **kwargs):  # worker 0 asks between worker 1's look and its ask
        if not first:
            first.append(workers[0].ask_new(studies[0]))
        return ask(*args, **kwargs)

    monkeypatch.setattr(studies[1], "ask", ask_while_the_other_worker_asks)
    second = workers[1].ask_new(studies[1])
    trials = studies[0].get_trials(deepcopy=False)
    running, failed = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL
    assert [t.state for t in trials] == [running, failed, running]
    assert trials[0].number == first[0].number and trials[1].params == first[0].params  # the same draw
    assert second.number == 2 and second.params != first[0].params


@pytest.mark.parametrize("same_draw", [True, False])
def test_a_worker_waits_for_an_earlier_trial_still_being_drawn_and_then_compares_its_set(
    tmp_path, monkeypatch, same_draw
):
    # Worker 0's trial is numbered first but its parameters are not drawn yet when worker 1 has drawn its own:
    # worker 1 must wait for them (comparing at once, it would find nothing and keep the set too), then give its
    # trial up only if the sets are the same (seed 7 for both), and keep it if not (seed 8 for worker 0).
    from hydra_plugins.mnist_optuna_sweeper import sweeper

    release = threading.Event()
    first_sampler = HeldSampler(release, seed=7 if same_draw else 8)
    workers, studies = race_workers(tmp_path, [first_sampler, optuna.samplers.TPESampler(seed=7)])

    def waits(seconds: float) -> None:  # worker 1 is waiting: only now does worker 0 finish its draw
        release.set()
        time.sleep(seconds)

    monkeypatch.setattr(sweeper, "time", SimpleNamespace(monotonic=time.monotonic, sleep=waits))
    first, second = ask_while_worker_0_is_held(workers, studies)
    trials = studies[0].get_trials(deepcopy=False)
    running, failed = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL
    assert release.is_set() and first.number == 0  # worker 1 waited
    if same_draw:
        assert [t.state for t in trials] == [running, failed, running]
        assert trials[1].params == first.params and second.number == 2 and second.params != first.params
    else:
        assert [t.state for t in trials] == [running, running] and second.number == 1


def test_a_trial_still_being_drawn_after_the_wait_counts_as_drawn_before(tmp_path, monkeypatch):
    # Worker 0 is stuck mid-draw for longer than the wait: worker 1 cannot know its set, so it fails its own trial
    # untrained and asks again (keeping it could train worker 0's set twice).
    from hydra_plugins.mnist_optuna_sweeper import sweeper

    monkeypatch.setattr(sweeper, "DRAWING_WAIT_S", 3.0)  # then room for worker 0 to finish before the second ask
    release = threading.Event()
    workers, studies = race_workers(tmp_path, [HeldSampler(release, seed=7), optuna.samplers.TPESampler(seed=7)])
    tell, params_then = studies[1].tell, []

    def tell_then_release(trial, *args, **kwargs):  # worker 1 gave up its first trial: worker 0 may go on
        params_then.append(studies[1].get_trials(deepcopy=False)[0].params)
        tell(trial, *args, **kwargs)
        release.set()

    monkeypatch.setattr(studies[1], "tell", tell_then_release)
    first, second = ask_while_worker_0_is_held(workers, studies)
    trials = studies[0].get_trials(deepcopy=False)
    running, failed = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL
    assert params_then == [{}]  # failed while trial 0 had no parameters yet: the timeout, not a comparison
    assert [t.state for t in trials] == [running, failed, running] and first.number == 0
    assert second.number == 2 and second.params != first.params


def test_a_batch_of_trials_that_runs_out_of_new_sets_leaves_none_running(tmp_path):
    # With n_jobs > 1 the space can run out after part of a batch was asked: those trials are failed (never
    # trained), or every other worker would count them as taken.
    from hydra_plugins.mnist_optuna_sweeper.sweeper import OptunaSweeper, SearchError

    worker = OptunaSweeper(
        f"sqlite:///{tmp_path / 'study.db'}", "small", n_trials=4, n_jobs=2, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=1), params={"data.batch_size": "choice(28)"},
    )  # fmt: skip
    study = worker.open_study()
    with pytest.raises(SearchError, match="the search space has few or none left"):
        worker.ask_batch(study, 2)
    states = [t.state for t in study.get_trials()]
    assert len(states) == 1 + 20 and set(states) == {optuna.trial.TrialState.FAIL}  # the first set's trial too


def test_each_trial_runs_in_the_folder_named_by_its_number_when_a_batch_has_a_gap(tmp_path, monkeypatch):
    # The launcher numbers a launch's folders from initial_job_idx: a batch of trials 0 and 2 (trial 1 a failed
    # duplicate draw) put trial 2 in folder 1. Each run of consecutive numbers is now a launch of its own.
    from hydra.core.utils import JobReturn, JobStatus

    from hydra_plugins.mnist_optuna_sweeper.sweeper import OptunaSweeper, consecutive_runs

    assert consecutive_runs([0, 2, 3, 5]) == [[0], [1, 2], [3]]
    worker = OptunaSweeper(
        f"sqlite:///{tmp_path / 'study.db'}", "gap", n_trials=3, n_jobs=2, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=1), params={"optimizer.lr": "interval(0.001, 0.01)"},
    )  # fmt: skip
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        held_out = ["optimized_metric=val/acc", "data.val_size=5000"]  # a search selects on held-out images
        worker.config = compose("train", overrides=[f"hydra.sweep.dir={tmp_path}", *held_out], return_hydra_config=True)
    launches = []

    class Launcher:  # records where each launch starts numbering its folders, and how many jobs it has
        def launch(self, overrides, initial_job_idx):
            launches.append((initial_job_idx, len(overrides)))
            return [JobReturn(overrides=o, _return_value=0.5, status=JobStatus.COMPLETED) for o in overrides]

    worker.launcher = Launcher()
    ask_new, calls = worker.ask_new, []

    def ask_with_a_failed_draw_second(study):  # as a duplicate draw does: a trial numbered, then failed
        calls.append(1)
        if len(calls) == 2:
            study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
        return ask_new(study)

    monkeypatch.setattr(worker, "ask_new", ask_with_a_failed_draw_second)
    worker.search([])
    study = optuna.load_study(study_name="gap", storage=worker.storage)
    states = {t.number: t.state.name for t in study.trials}
    assert states == {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE", 3: "COMPLETE"}
    assert launches == [(0, 1), (2, 1), (3, 1)]  # trial 2 in folder 2, not 1


def test_a_search_space_with_no_new_parameter_set_left_stops_instead_of_training_one_again(tmp_path):
    from hydra_plugins.mnist_optuna_sweeper.sweeper import OptunaSweeper, SearchError

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    worker = OptunaSweeper(
        storage, "small", n_trials=3, n_jobs=1, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=1), params={"data.batch_size": "choice(28)"},
    )  # fmt: skip
    study = worker.open_study()
    study.tell(worker.ask_new(study), 0.9)
    with pytest.raises(SearchError, match="the search space has few or none left"):
        worker.ask_new(study)
    assert [t.state for t in study.get_trials()].count(optuna.trial.TrialState.FAIL) == 20  # none trained


def test_the_sweeper_plugin_stays_visible_to_hydra_after_sys_path_changes(monkeypatch, tmp_path):
    """An editable install adds hydra_plugins/ to the namespace package's path (mnist_lightning/__init__.py). A
    namespace path recomputes itself when sys.path changes, which dropped the folder: in a process where a library
    had changed sys.path before Hydra's first plugin scan, `hparams_search=optuna` found no mnist_optuna sweeper."""
    import pkgutil

    import hydra_plugins
    import mnist_lightning

    folder = str(Path(mnist_lightning.__file__).resolve().parents[1] / "hydra_plugins")
    if folder not in list(hydra_plugins.__path__):
        pytest.skip("installed from a wheel: the plugin is in site-packages, found like any other")
    # A changed sys.path, as importing some library leaves it, without the repository (`python -m pytest` from the
    # repository puts it there; the `pytest` script and a user's own folder do not).
    root = str(Path(folder).parent)
    kept = [entry for entry in sys.path if entry not in ("", ".", root, os.getcwd())]
    monkeypatch.setattr(sys, "path", [str(tmp_path), *kept])
    assert folder in list(hydra_plugins.__path__)
    assert "mnist_optuna_sweeper" in {module.name for module in pkgutil.iter_modules(hydra_plugins.__path__)}


def test_a_trial_searching_for_the_best_epoch_reports_the_best_so_far_also_after_a_requeue(tmp_path):
    from mnist_lightning.run.pruning import PruneBehind

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="best", storage=storage, direction="maximize")
    number = study.ask().number

    def validated(callback, epoch: int, acc: float) -> None:
        trainer = SimpleNamespace(sanity_checking=False, callback_metrics={"val/acc": torch.tensor(acc)},
                                  current_epoch=epoch - 1, is_global_zero=True,
                                  strategy=SimpleNamespace(broadcast=lambda value: value))  # fmt: skip
        callback.on_validation_end(trainer, None)

    def trial(monitor: str) -> PruneBehind:
        return PruneBehind(storage, "best", number, pruner=optuna.pruners.NopPruner(), monitor=monitor)

    first = trial("val/acc_best")
    validated(first, 1, 0.9)
    validated(first, 2, 0.8)  # worse: the best so far stays 0.9
    requeued = trial("val/acc_best")  # a SLURM requeue: the trial's process starts again from last.ckpt
    validated(requeued, 3, 0.85)
    reported = optuna.load_study(study_name="best", storage=storage).trials[0].intermediate_values
    assert reported == {1: pytest.approx(0.9), 2: pytest.approx(0.9), 3: pytest.approx(0.9)}


def test_a_worker_with_another_space_is_refused_and_the_studys_own_workers_go_on(tmp_path):
    from hydra_plugins.mnist_optuna_sweeper.sweeper import OptunaSweeper, SearchError

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="space", storage=storage, direction="maximize")

    def worker(space: str) -> OptunaSweeper:
        return OptunaSweeper(storage, "space", n_trials=4, n_jobs=1, direction="maximize",
                             sampler=optuna.samplers.TPESampler(seed=1), params={"optimizer.lr": space})  # fmt: skip

    own, other = worker("interval(0.001, 0.01)"), worker("interval(0.05, 0.1)")
    for drawn_by in (own, other):  # the study's first trial, then one of a worker started with another space
        trial = study.ask(drawn_by.space)
        study.tell(trial, 0.5)
    own.check_same_space(study)  # the study's space: it goes on (it was refused over the other worker's trial)
    # A choice changed from 1 to true compared equal (True == 1 in Python); the stored space tells them apart
    ones = optuna.create_study(study_name="ones", storage=storage, direction="maximize")
    drawn = worker("choice(1, 2)")
    drawn.study_name = "ones"
    ones.tell(ones.ask(drawn.space), 0.5)
    drawn.check_same_space(ones)
    flag = worker("choice(true, 2)")
    flag.study_name = "ones"
    with pytest.raises(SearchError, match="trial 0 was drawn from another search space"):
        flag.check_same_space(ones)
    with pytest.raises(
        SearchError, match=r"trial 0 was drawn from another search space \(it differs in optimizer.lr\)"
    ):
        other.check_same_space(study)
