"""A test-only callback that presses Ctrl-C in its own run at a chosen epoch: a deterministic interruption.

Sending SIGINT from the test process raced with short epochs (the run could finish another epoch before the
signal landed). Here the run signals itself at the first step of epoch `epoch` (from 0), so the latest
finished epoch is always `epoch - 1`. A resumed run (one started from a checkpoint) is left alone.
"""

import os
import signal

import pytorch_lightning as pl


class CtrlCAt(pl.Callback):
    def __init__(self, epoch: int, signal_name: str = "SIGINT") -> None:
        self.epoch, self.signal = epoch, getattr(signal, signal_name)  # SIGTERM: what kill and scancel send

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        if trainer.ckpt_path is None and trainer.current_epoch == self.epoch and batch_idx == 0:
            # A shell starts background jobs (`pytest ... &`) with SIGINT ignored, and children inherit that; a
            # terminal's Ctrl-C reaches a process that does not ignore it, so restore Python's handler first.
            if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), self.signal)  # SIGINT: what Ctrl-C in the terminal sends


class KillTheSecondTrial(pl.Callback):
    """SIGKILL (no clean-up at all, as `kill -9` or a lost machine) of the whole search driver in the first step
    of its second trial. A counter file says which trial this is, so a resumed search is never killed."""

    def __init__(self, counter: str) -> None:
        self.counter = counter

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seen = int(open(self.counter).read()) if os.path.exists(self.counter) else 0
        with open(self.counter, "w") as f:
            f.write(str(seen + 1))
        if seen == 1:
            os.kill(os.getpid(), signal.SIGKILL)
