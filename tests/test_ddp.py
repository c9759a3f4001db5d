"""Distributed data parallel on the CPU: every rank its own share, each test image scored once."""

import json
import os
from types import SimpleNamespace

import pytest
import torch
from conftest import run_module

from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.data.loader import EpochSampler


def test_ranks_get_disjoint_shares_that_cover_the_epoch():
    for size, even in ((60_000, True), (10_000, False), (10_001, False)):
        shares = []
        for rank in range(2):
            sampler = EpochSampler(size, shuffle=even, seed=3, rank=rank, world_size=2, even=even)
            sampler.set_epoch(4)
            shares.append(sampler.indices())
            assert len(sampler) == len(shares[-1])
        together = torch.cat(shares)
        assert len(together) == len(set(together.tolist())) == size  # disjoint, and nothing left out
    # Training needs equal shares (DDP steps in lockstep): an odd sample is left out, never duplicated.
    assert [len(EpochSampler(7, True, rank=r, world_size=2, even=True)) for r in (0, 1)] == [3, 3]


def test_the_datamodule_gives_each_rank_its_own_share():
    shares = []
    for rank in range(2):
        dm = MNISTDataModule(val_size=50_000, batch_size=500, seed=1)
        dm.trainer = SimpleNamespace(global_rank=rank, world_size=2, strategy=SimpleNamespace(root_device="cpu"))
        dm.prepare_data(), dm.setup()
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(0)
        shares.append(torch.cat([labels for _, labels in loader]))
        assert loader.sampler.rank == rank and len(shares[-1]) == 5_000
    assert not torch.equal(shares[0], shares[1])  # not rank 0's share twice
    assert torch.equal(torch.cat(shares).bincount(), dm.train_set[1].bincount())  # together: the whole split


@pytest.mark.system
def test_two_cpu_processes_train_and_test_with_metrics_written_once(tmp_path):
    run = tmp_path / "run"
    # 50,000 images held out for validation leave 10,000 to train on: a whole epoch in a few seconds. The default
    # TensorBoard logger: rank 1 must not write (or crash writing) events.
    # Not the share (cores / 2) that Lightning's launcher sets when OMP_NUM_THREADS is not set
    threads = max(1, len(os.sched_getaffinity(0)) // 2) + 1
    args = ["trainer=ddp_cpu", "trainer.max_epochs=1", "data.val_size=50000", "data.batch_size=500",
            "trainer.limit_val_batches=1", f"torch_threads={threads}"]  # fmt: skip
    result = run_module("mnist_lightning.train", *args, f"hydra.run.dir={run}", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train/images"] == 10_000  # 2 ranks x 5,000: the whole training split, once
    assert metrics["test/images"] == 10_000  # 2 ranks x 5,000: every test image exactly once
    assert metrics["torch_threads"] == threads  # as set: Lightning's launcher set cores / 2 over it before 0.5.0
    assert "metrics in" in (run / "train.log").read_text()  # rank 0 wrote metrics.json ...
    assert "metrics in" not in (run / "train_ddp_process_1.log").read_text()  # ... and rank 1 did not


@pytest.mark.system
def test_evaluate_on_two_cpu_processes_prints_the_whole_test_set_once(trained_sweep, tmp_path):
    run = trained_sweep / "0"
    args = [f"ckpt_path={run}/checkpoints/last.ckpt", "trainer.accelerator=cpu", "trainer.devices=2", "torch_threads=1"]
    result = run_module("mnist_lightning.evaluate", *args, cwd=tmp_path, timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.count("test accuracy: ") == 1 and result.stdout.count("true \\ pred") == 1  # twice before
    test_acc = json.loads((run / "metrics.json").read_text())["test/acc"]
    assert f"test accuracy: {100 * test_acc:.2f}%" in result.stdout  # both processes' shares, summed
    confusion = [line.split()[1:] for line in result.stdout.splitlines()[-10:]]
    assert sum(int(n) for row in confusion for n in row) == 10_000
