"""What a run does differently as a job of a cluster launcher: the cores it was given, and resuming when requeued.

Kept free of heavy imports: hydra_plugins/mnist_submitit reads CPUS_PER_JOB_ENV when Hydra scans its plugins.
"""

import logging
import os
from pathlib import Path
from typing import Any

# Set by hydra/launcher=submitit_local for its jobs: the cores each may use (the sweep's jobs run at once).
CPUS_PER_JOB_ENV = "MNIST_LIGHTNING_CPUS_PER_JOB"


def _count(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


def slurm_task_cpus() -> int | None:
    """A SLURM task's `--cpus-per-task`: the cores of this process (SLURM runs one DDP process per task)."""
    return _count("SLURM_CPUS_PER_TASK")


def local_job_cpus() -> int | None:
    """hydra/launcher=submitit_local's share of the cores for this job (its DDP processes share it in turn)."""
    return _count(CPUS_PER_JOB_ENV)


def submitit_executor() -> str | None:
    """`slurm` or `local` in a job of hydra/launcher=submitit_*: submitit handles its signals, time limit, requeue."""
    return os.environ.get("SUBMITIT_EXECUTOR")


def checkpoint_to_resume(ckpt_path: str | None, output_dir: Path) -> str | None:
    """The checkpoint a run starts from: a requeued job's own last.ckpt, else the configured `ckpt_path`."""
    return requeued_checkpoint(output_dir) or ckpt_path


def requeued_checkpoint(output_dir: Path) -> str | None:
    """A requeued SLURM job's own `checkpoints/last.ckpt`, to resume from; None for a first start.

    submitit requeues a job that reaches its time limit (hydra.launcher.max_num_timeout) with the same overrides
    and run folder, and SLURM counts the restarts. last.ckpt holds the last finished epoch: resuming there keeps
    the run identical to an uninterrupted one, which a checkpoint taken mid-epoch would not (Lightning cannot
    resume an epoch's data order). It comes before a `ckpt_path` the job was started with: that one was its start.
    """
    restarts = _count("SLURM_RESTART_COUNT") or 0
    last = output_dir / "checkpoints" / "last.ckpt"
    if restarts == 0 or not last.is_file():
        return None
    logging.getLogger(__name__).info(f"requeued SLURM job (restart {restarts}): resuming from {last}")
    return str(last)


def slurm_job() -> dict | None:
    """This run's SLURM job, for metrics.json: its id, array task, tasks and how often it was requeued."""
    if "SLURM_JOB_ID" not in os.environ:
        return None
    env = os.environ.get
    return {
        "job_id": env("SLURM_JOB_ID"),
        "array_job_id": env("SLURM_ARRAY_JOB_ID"),
        "array_task_id": env("SLURM_ARRAY_TASK_ID"),
        "tasks": _count("SLURM_NTASKS") or 1,
        "cpus_per_task": slurm_task_cpus(),
        "restarts": _count("SLURM_RESTART_COUNT") or 0,
    }


def drop_stale_hpc_checkpoints(trainer: Any) -> None:
    """Delete Lightning's mid-epoch `hpc_ckpt_N.ckpt` files from the run folder once fit has ended. Its own SLURM
    requeue (a job started with sbatch, not through the submitit launcher) writes them; under SLURM its
    `trainer.test(ckpt_path=None)` loads the newest one instead of the weights in memory, so the final test would score
    a requeued attempt's stale weights."""
    if trainer.is_global_zero:
        for path in Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt"):
            path.unlink(missing_ok=True)
    trainer.strategy.barrier()  # no process tests before they are gone
