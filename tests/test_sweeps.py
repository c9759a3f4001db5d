"""Sweeps beyond a grid: Optuna's sweeper, the parallel joblib launcher, and run folders that never collide."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml
from conftest import CONF_DIR, compose_train_config, run_here
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


def test_optuna_sweep_runs_trials_and_reports_the_best(tmp_path):
    sweep = tmp_path / "optuna"
    args = ["hparams_search=optuna", "hydra.sweeper.n_trials=2", "trainer.max_epochs=1",
            "trainer.limit_train_batches=3", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
            "logger=none"]  # fmt: skip
    result = run_here(TRAIN, *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    trials = [json.loads((sweep / job / "metrics.json").read_text()) for job in ("0", "1")]
    assert all(not t["val_is_test"] for t in trials)  # held-out images, not the test set ...
    assert {t["val/acc"] for t in trials}.isdisjoint(t["test/acc"] for t in trials)  # ... so the two differ
    assert best["best_value"] == max(t["val/acc"] for t in trials)  # and the study maximized val/acc
    assert set(best["best_params"]) == {"optimizer.lr", "scheduler.gamma", "model.dropout", "data.batch_size"}


@pytest.mark.system
def test_joblib_jobs_run_in_parallel_and_share_the_cores(tmp_path):
    # joblib's workers limit their own threads too, so this run alone would not see the project's logic
    # break: the next test checks that logic directly.
    sweep = tmp_path / "joblib"
    args = ["-m", "seed=1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "trainer.fast_dev_run=true"]
    result = run_here(TRAIN, *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    threads = [json.loads((sweep / job / "metrics.json").read_text())["torch_threads"] for job in ("0", "1")]
    assert threads == [max(1, (os.cpu_count() or 1) // 2)] * 2


@pytest.mark.parametrize(("n_jobs", "trainer", "processes"), [(2, "default", 2), (-1, "default", 0), (2, "ddp_cpu", 4)])
def test_threads_are_the_cores_shared_among_parallel_processes(tmp_path, monkeypatch, n_jobs, trainer, processes):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)  # a machine where the shares differ from one another
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


def test_slurm_launcher_config_holds_the_job_settings_a_cluster_user_fills_in():
    overrides = ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=30"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher.partition, launcher.timeout_min, launcher.gpus_per_node, launcher.tasks_per_node) == (
        "gpu",
        30,
        1,
        1,
    )
    assert launcher.submitit_folder.endswith("/.submitit/%j") and launcher.cpus_per_task == 8  # ours, not the plugin's


def test_cpu_ddp_processes_share_the_cores(tmp_path):
    cfg = compose_train_config(tmp_path, ["trainer=ddp_cpu"])
    assert torch_threads(cfg) == max(1, (os.cpu_count() or 1) // 2)
