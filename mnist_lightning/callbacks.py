"""Callbacks: the per-epoch history for metrics.json, RNG states for exact resumes, a progress bar from epoch 1."""

import random
import time

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar


class EpochHistory(pl.Callback):
    """Records one row per validated epoch; epochs are counted from 1, as the printed lines are."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self._fit_start = time.perf_counter()
        self._lr = float("nan")

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
                "seconds": time.perf_counter() - self._fit_start,
            }
        )

    def state_dict(self) -> dict:
        return {"rows": self.rows}  # kept in checkpoints, so a resumed run's metrics.json has every epoch

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = list(state_dict["rows"])

    def best(self) -> dict[str, float] | None:
        """The row with the highest val/acc (the earliest one on a tie), or None before any validation."""
        return max(reversed(self.rows), key=lambda row: row["val/acc"], default=None)


class EpochProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, with epochs counted from 1 of max_epochs like the printed lines."""

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: object) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description(f"Epoch {trainer.current_epoch + 1}/{trainer.max_epochs}")


class RngState(pl.Callback):
    """Keeps the Python, NumPy and torch random states in checkpoints and restores them on resume.

    Lightning does not save them, so without this a resumed run draws other dropout masks than an
    uninterrupted one and ends with other weights. The data order needs nothing: it is a function of
    (seed, epoch) alone.
    """

    def state_dict(self) -> dict:
        state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        random.setstate(state_dict["python"])
        np.random.set_state(state_dict["numpy"])
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
