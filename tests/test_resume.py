"""Determinism and resume on CPU: same seed, same numbers; a killed run resumes to the uninterrupted result."""

import json
import subprocess
import sys
import time

import pytest
import torch
from conftest import run_module

from mnist_lightning.checkpoints import AtomicCheckpointIO

TRAIN = "mnist_lightning.train"
# 3 short epochs; validation on 2 batches, test on all 10,000 images.
SHORT = ["trainer.max_epochs=3", "trainer.limit_train_batches=60", "trainer.limit_val_batches=2",
         "trainer.deterministic=true", "logger=none", "seed=7"]  # fmt: skip


def finished(run, tmp_path) -> dict:
    return json.loads((tmp_path / run / "metrics.json").read_text())


def same_numbers(a: dict, b: dict) -> None:
    assert (a["test/acc"], a["test/loss"]) == (b["test/acc"], b["test/loss"])
    assert [row["val/loss"] for row in a["history"]] == [row["val/loss"] for row in b["history"]]


def test_same_seed_gives_identical_metrics_and_a_killed_run_resumes_to_them(tmp_path):
    for run in ("a", "b"):
        result = run_module(TRAIN, *SHORT, f"hydra.run.dir={tmp_path}/{run}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    uninterrupted = finished("a", tmp_path)
    same_numbers(uninterrupted, finished("b", tmp_path))

    # Kill a third run with SIGKILL as soon as its first epoch's checkpoint exists, i.e. during epoch 2.
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    command = [sys.executable, "-m", TRAIN, *SHORT, f"hydra.run.dir={tmp_path}/killed"]
    killed = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not last.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.kill()
    killed.wait()
    assert last.exists() and not (tmp_path / "killed" / "metrics.json").exists()
    assert torch.load(last, weights_only=False)["epoch"] == 0  # only the first epoch had finished

    result = run_module(TRAIN, *SHORT, f"ckpt_path={last}", f"hydra.run.dir={tmp_path}/resumed", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    resumed = finished("resumed", tmp_path)
    same_numbers(uninterrupted, resumed)
    assert [row["epoch"] for row in resumed["history"]] == [1, 2, 3]


def test_a_kill_while_saving_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"epoch": 1, "state_dict": {}}, path)

    def dies_halfway(obj, file):  # what a kill in the middle of torch.save leaves behind
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"epoch": 2, "state_dict": {}}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=False)["epoch"] == 1
