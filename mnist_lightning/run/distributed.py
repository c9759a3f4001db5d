"""DDP on one machine: rank 0 waits for the processes Lightning started, and fails the run when one of them failed."""

import pytorch_lightning as pl

from mnist_lightning.base.errors import UserError


class RankFailed(UserError):
    """Another process of a DDP run failed; its own output (and log file) says how."""

    exit_code = 1


def wait_for_other_ranks(trainer: pl.Trainer, timeout_s: float = 300) -> None:
    """Wait for the other ranks' processes to end; raise RankFailed when any ended with a non-zero exit code.

    Lightning starts them as copies of this command and watches them only every few seconds, so a process
    that fails after the last collective step (e.g. while logging) would otherwise leave the run exiting 0.
    """
    processes = getattr(trainer.strategy.launcher, "procs", None) or []  # empty unless this is rank 0 of a DDP run
    for rank, process in enumerate(processes, start=1):
        code = process.wait(timeout=timeout_s)
        if code != 0:
            raise RankFailed(f"the process of rank {rank} failed with exit code {code} (its output is above)")
