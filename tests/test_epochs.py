"""What changes from epoch to epoch of a real fit: the learning rate (per epoch or per step), the data order, the
best epoch; and seed replicates that share no epoch order."""

import logging
import math

import pytest
import pytorch_lightning as pl
import torch
from conftest import compose_train_config
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_lightning.data.loader import AUGMENT, ORDER, EpochSampler, epoch_seed
from mnist_lightning.model.lit_module import MNISTLitModule
from mnist_lightning.run.callbacks import EpochHistory
from mnist_lightning.train import train

STEPS = 5  # per epoch
# 3 epochs of 5 steps, validated on 1,000 held-out images (end to end with data.val_size > 0); 1,000 test images.
THREE_EPOCHS = ["trainer.max_epochs=3", f"trainer.limit_train_batches={STEPS}", "data.val_size=1000",
                "trainer.limit_test_batches=1", "trainer.log_every_n_steps=1"]  # fmt: skip


class Watch(pl.Callback):
    """Records the lr of every step and the labels of every epoch's first batch."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.first_labels: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
        if batch_idx == 0:
            self.first_labels.append(batch[1].clone())


def logged_lrs(run) -> list[float]:
    events = EventAccumulator(str(run))
    events.Reload()
    return [event.value for event in events.Scalars("train/lr")]


def logged_steps(run) -> list[tuple[int, float]]:
    events = EventAccumulator(str(run))
    events.Reload()
    return [(event.step, event.value) for event in events.Scalars("train/lr")]


def test_exponential_schedule_data_order_and_best_epoch_over_three_epochs(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    watch = Watch()
    metrics = train(compose_train_config(tmp_path, THREE_EPOCHS), callbacks=[watch])
    expected = [0.003 * 0.85**epoch for epoch in range(3)]  # the seed's LambdaLR(0.85 ** epoch)
    assert watch.lrs == pytest.approx([lr for lr in expected for _ in range(STEPS)])
    assert [row["lr"] for row in metrics["history"]] == pytest.approx(expected)
    assert logged_lrs(tmp_path) == pytest.approx(expected)  # one point per epoch

    first = watch.first_labels
    assert len(first) == 3 and not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])

    accs = [row["val/acc"] for row in metrics["history"]]
    assert metrics["val/acc_best"] == max(accs) and metrics["epoch_of_val_acc_best"] == accs.index(max(accs)) + 1
    assert metrics["val_is_test"] is False and metrics["checkpoints"]["best"] is not None
    assert "Epoch 3: val loss" in caplog.text  # the line says val, not test


def test_onecycle_logs_the_lr_of_every_step(tmp_path):
    watch = Watch()
    train(compose_train_config(tmp_path, [*THREE_EPOCHS, "scheduler=onecycle"]), callbacks=[watch])
    reference = torch.optim.lr_scheduler.OneCycleLR(
        torch.optim.SGD([torch.zeros(1)], lr=1.0), max_lr=0.01, total_steps=3 * STEPS, pct_start=0.25,
        div_factor=25, final_div_factor=1000,
    )  # fmt: skip
    expected = []
    for _ in range(3 * STEPS):
        expected.append(reference.get_last_lr()[0])
        reference.optimizer.step(), reference.step()
    assert watch.lrs == pytest.approx(expected)
    assert logged_lrs(tmp_path) == pytest.approx(expected)  # every step, not once per epoch
    assert len(set(expected)) == 3 * STEPS


def test_onecycle_logs_the_lr_of_each_step_the_loggers_write(tmp_path, monkeypatch):
    # The lr is logged only on the steps Lightning writes (every log_every_n_steps over the whole fit, and the step
    # where a callback stops training): each written step must carry that step's own lr, at that step.
    calls = []
    log = MNISTLitModule.log
    monkeypatch.setattr(
        MNISTLitModule, "log", lambda self, name, *a, **k: (calls.append(name), log(self, name, *a, **k))
    )
    watch = Watch()
    overrides = [*THREE_EPOCHS, "scheduler=onecycle", "trainer.log_every_n_steps=4"]
    train(compose_train_config(tmp_path / "every4", overrides), callbacks=[watch])
    assert len(set(watch.lrs)) == 3 * STEPS  # every step's lr differs: a value written at the wrong step shows
    written = logged_steps(tmp_path / "every4")
    assert [step for step, _ in written] == [3, 7, 11]  # steps 0-14: the 4th, 8th and 12th
    assert [lr for _, lr in written] == pytest.approx([watch.lrs[3], watch.lrs[7], watch.lrs[11]])
    assert calls.count("train/lr") == 3  # not a call on every step

    class StopAtStep(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if trainer.global_step == 6:  # after the 6th step (step 5)
                trainer.should_stop = True

    watch = Watch()
    train(compose_train_config(tmp_path / "stopped", overrides), callbacks=[StopAtStep(), watch])
    assert len(watch.lrs) == 6
    written = logged_steps(tmp_path / "stopped")
    assert written == [(3, pytest.approx(watch.lrs[3])), (5, pytest.approx(watch.lrs[5]))]  # the stop is written too


def test_seed_replicates_share_no_epoch_order():
    orders = {}
    for seed in (1, 2, 3):
        sampler = EpochSampler(60_000, shuffle=True, seed=seed)
        for epoch in range(20):
            sampler.set_epoch(epoch)
            orders[(seed, epoch)] = tuple(sampler.indices()[:100].tolist())
    assert len(set(orders.values())) == 60  # `seed + epoch` gave only 22 distinct orders here
    seeds = {epoch_seed(seed, epoch, stream, rank) for seed in (1, 2, 3) for epoch in range(20)
             for stream in (ORDER, AUGMENT) for rank in (0, 1)}  # fmt: skip
    assert len(seeds) == 3 * 20 * 2 * 2  # augmentation draws from streams of their own too


def test_the_best_epoch_is_the_earliest_of_tied_ones():
    history = EpochHistory()
    history.rows = [{"epoch": e, "val/acc": acc} for e, acc in [(1, 0.98), (2, 0.99), (3, 0.97), (4, 0.99)]]
    assert history.best()["epoch"] == 2  # as ModelCheckpoint(mode="max") keeps the first of equal scores
    assert math.isclose(history.best()["val/acc"], 0.99)


def test_a_resumed_runs_seconds_go_on_from_its_checkpoint():
    before = EpochHistory()
    before.rows = [{"epoch": 1, "val/acc": 0.9, "seconds": 40.0}]
    before.earlier_seconds = 100.0  # two processes already: its fit time is this plus its own so far
    saved = before.state_dict()
    assert saved["seconds"] >= 100.0
    after = EpochHistory()
    after.load_state_dict(saved)
    assert after.rows == before.rows and after.earlier_seconds == saved["seconds"]
    assert after.fit_seconds() >= saved["seconds"]  # not from 0, as each process's seconds were before 0.5.0
    older = EpochHistory()
    older.load_state_dict({"rows": before.rows})  # a checkpoint from before the seconds were kept: its last epoch's
    assert older.earlier_seconds == 40.0
