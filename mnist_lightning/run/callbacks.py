"""Callbacks: the per-epoch history for metrics.json, RNG states for exact resumes, a progress bar from epoch 1, and
Lightning's moving average of the weights, made to test the average on every path."""

import random
import sys
import time

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning import callbacks
from pytorch_lightning.callbacks import TQDMProgressBar

from mnist_lightning.base.errors import UserError
from mnist_lightning.base.value_ranges import ema_decay_error, positive_integer_error


class EpochHistory(pl.Callback):
    """Records one row per validated epoch; epochs are counted from 1, as the printed lines are."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self._fit_start = time.perf_counter()
        self._lr = float("nan")
        self.earlier_seconds = 0.0  # fit time of the run's earlier processes (an interrupted or requeued run)

    def fit_seconds(self) -> float:
        """The run's fit time so far, over all its processes: a resumed run's seconds go on from its checkpoint's."""
        return self.earlier_seconds + time.perf_counter() - self._fit_start

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_start = time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._lr = trainer.optimizers[0].param_groups[0]["lr"]  # the lr this epoch trains with

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        metrics = trainer.callback_metrics
        self.rows.append(
            {
                "epoch": trainer.current_epoch + 1,
                "lr": self._lr,
                "val/loss": metrics["val/loss"].item(),
                "val/acc": metrics["val/acc"].item(),
                "seconds": self.fit_seconds(),
            }
        )

    def state_dict(self) -> dict:
        # kept in checkpoints, so a resumed run's metrics.json has every epoch and its seconds go on
        return {"rows": self.rows, "seconds": self.fit_seconds()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = list(state_dict["rows"])
        # A checkpoint written before the seconds were kept: its last epoch's, counted from its process's fit start.
        last = self.rows[-1].get("seconds", 0.0) if self.rows else 0.0
        self.earlier_seconds = state_dict.get("seconds", last)

    def best(self) -> dict[str, float] | None:
        """The row with the highest val/acc (the earliest one on a tie, as ModelCheckpoint keeps), or None."""
        return max(self.rows, key=lambda row: row["val/acc"], default=None)  # max keeps the first of equals


class EMAWeightAveraging(callbacks.EMAWeightAveraging):
    """Lightning's moving average of the weights, which it copies into the model when training ends
    (`on_train_end`). A run resumed with no epoch left to train (the resume command of a run stopped in its final
    test, a SLURM requeue there) skips training and that hook, and would test and record the raw weights: the copy is
    made when fit ends instead. Also checks its settings in one line (Lightning's ValueError came through Hydra's)."""

    def __init__(self, decay: float = 0.999, update_every_n_steps: int = 1, **kwargs: object) -> None:
        if message := ema_decay_error(decay) or positive_integer_error(
            "callbacks.ema.update_every_n_steps", update_every_n_steps
        ):
            raise UserError(message)
        super().__init__(decay=decay, update_every_n_steps=update_every_n_steps, **kwargs)
        self._average_copied = False

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self._average_copied = True

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._average_model is not None and not self._average_copied:
            self._copy_average_to_current(pl_module)
            self._average_copied = True


class EpochProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, with epochs counted from 1 of max_epochs like the printed lines, drawn only where a
    person watches: in a log file or a pipe its redraws are noise, and the per-epoch lines say the same.
    """

    def __init__(self, refresh_rate: int = 1, terminal_only: bool = True, **kwargs: object) -> None:
        super().__init__(refresh_rate=refresh_rate, **kwargs)  # process_position, leave: Lightning's own
        self.terminal_only = terminal_only
        self._loss: torch.Tensor | None = None  # the latest training step's, shown when the bar redraws

    @property
    def is_enabled(self) -> bool:
        return super().is_enabled and (not self.terminal_only or sys.stdout.isatty())  # Lightning draws on stdout

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: object) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description(f"Epoch {trainer.current_epoch + 1}/{trainer.max_epochs}")

    # The latest training loss, read here when the bar redraws (every refresh_rate steps) rather than logged with
    # self.log at every step: Lightning's logging moves its whole result collection each call, about 1 ms a step
    # on 2 CPU cores (a twentieth of a reference step at batch 28; the bench's project/bare ratio).
    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs, *args: object) -> None:
        self._loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        super().on_train_batch_end(trainer, module, outputs, *args)

    def get_metrics(self, trainer: pl.Trainer, module: pl.LightningModule) -> dict:
        metrics = super().get_metrics(trainer, module)
        if self._loss is not None:  # also after a validation pass, until the next redraw
            metrics["loss"] = f"{self._loss.item():.3g}"
        if getattr(trainer.datamodule, "val_is_test", False):  # data.val_size=0: named as the epoch lines name it
            metrics = {key.replace("val/", "test/", 1): value for key, value in metrics.items()}
        return metrics


class RngState(pl.Callback):
    """Keeps the Python, NumPy and torch random states in checkpoints and restores them on resume.

    Lightning does not save them, so without this a resumed run draws other dropout masks than an
    uninterrupted one and ends with other weights. The data order needs nothing: it is a function of
    (seed, epoch) alone. Kept as tensors, ints and tuples only, so torch's weights-only loader opens them.
    """

    def state_dict(self) -> dict:
        numpy = np.random.get_state(legacy=False)  # {"state": {"key": uint32 array, "pos": int}, ...}
        state = {
            "python": random.getstate(),  # (version, tuple of ints, None)
            "numpy_key": torch.from_numpy(numpy["state"]["key"].astype(np.int64)),
            "numpy_pos": numpy["state"]["pos"],
            "numpy_gauss": (numpy["has_gauss"], numpy["gauss"]),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        random.setstate(state_dict["python"])
        if "numpy" in state_dict:  # checkpoints of earlier versions (opened with trust_checkpoint=true)
            np.random.set_state(state_dict["numpy"])
        else:
            key = state_dict["numpy_key"].numpy().astype(np.uint32)
            has_gauss, gauss = state_dict["numpy_gauss"]
            np.random.set_state(("MT19937", key, state_dict["numpy_pos"], has_gauss, gauss))
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


class Diverged(UserError):
    """The training loss became NaN or inf: the run stops instead of training on to a meaningless result."""

    exit_code = 1  # not a usage error: the run was tried, and failed

    def __init__(self, epoch: int, step: int, loss: float, record: object = "metrics.json") -> None:
        super().__init__(
            f"training diverged at epoch {epoch}, step {step} (loss {loss}): lower optimizer.lr "
            f"(or scheduler.max_lr with scheduler=onecycle); {record} has status diverged"
        )
        self.epoch, self.step, self.loss = epoch, step, loss


class LearnedNothing(UserError):
    """A finished run whose training accuracy is still at chance level: it ran, but its result means nothing."""

    exit_code = 1
    MIN_STEPS = 100  # a smoke test of a few steps (fast_dev_run, the tests) is not judged
    # 10 digits: 10% is chance. Measured on 2026-11-28 (100 steps, training accuracy of the epoch): lr 1e6 gave
    # 22.9% (reference) and 25.6% (tiny), lr 1e3 on nano 29.0%, lr 50 on nano 17.8%; nano at its own lr reached
    # 74.6% test accuracy in the same 100 steps. A run that learns slowly (a long warm-up) can sit near 30% early:
    # it is judged only at its end.
    CHANCE_LEVEL = 0.3

    def __init__(self, train_acc: float, steps: int) -> None:
        super().__init__(
            f"training accuracy is {100 * train_acc:.1f}% after {steps} steps, near chance level (10%): the run "
            "learned nothing (optimizer.lr too high or too low?); metrics.json has status chance_level"
        )
        self.train_acc, self.steps = train_acc, steps

    @classmethod
    def judge(cls, train_acc: float | None, steps: int) -> "LearnedNothing | None":
        """The error for a run that learned nothing, else None."""
        if train_acc is None or steps < cls.MIN_STEPS or train_acc >= cls.CHANCE_LEVEL:
            return None
        return cls(train_acc, steps)


class DivergenceGuard(pl.Callback):
    """Raises `Diverged` in the epoch where the training loss first is NaN or inf.

    The test runs on the loss's device after every step and is read on the host only every
    `check_every_n_steps` steps and at the end of each epoch, so no step waits for it; the step and loss
    it reports are those of the first bad step. Steps and epochs are counted from 1.
    """

    def __init__(self, check_every_n_steps: int = 20) -> None:
        self.check_every_n_steps = check_every_n_steps
        self._first_bad: torch.Tensor | None = None  # (step, loss) of the first bad step; step -1: none yet

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The step count lives on the device too (from the resumed step), so no step copies a number to it.
        self._step = torch.tensor(float(trainer.global_step), device=pl_module.device)
        self._first_bad = torch.tensor([-1.0, 0.0], device=pl_module.device)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int):
        loss = outputs["loss"].detach().float()
        self._step += 1  # the global step after this batch (one optimizer step per batch: no accumulation here)
        new = ~torch.isfinite(loss) & (self._first_bad[0] < 0)
        self._first_bad = torch.where(new, torch.stack([self._step, loss]), self._first_bad)
        if (batch_idx + 1) % self.check_every_n_steps == 0:
            self._check(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:  # the end of a training epoch: no validation (or checkpoint) of NaN weights
            self._check(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer)

    def _check(self, trainer: pl.Trainer) -> None:
        if self._first_bad is None:
            return
        step, loss = self._first_bad.tolist()
        if step >= 0:
            raise Diverged(epoch=trainer.current_epoch + 1, step=int(step), loss=loss)
