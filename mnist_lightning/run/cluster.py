"""What a run does differently as a job of a cluster launcher: the cores it was given, and resuming when requeued.

Kept free of heavy imports: hydra_plugins/mnist_submitit reads CPUS_PER_JOB_ENV when Hydra scans its plugins.
"""

import logging
import os
from pathlib import Path

# Set by hydra/launcher=submitit_local for its jobs: the cores each may use (the sweep's jobs run at once).
CPUS_PER_JOB_ENV = "MNIST_LIGHTNING_CPUS_PER_JOB"


def granted_cpus() -> int | None:
    """The cores this process was given: SLURM's `--cpus-per-task`, or submitit_local's share; None elsewhere."""
    for granted in (os.environ.get("SLURM_CPUS_PER_TASK"), os.environ.get(CPUS_PER_JOB_ENV)):
        if granted and granted.isdigit():
            return int(granted)
    return None


def requeued_checkpoint(output_dir: Path) -> str | None:
    """A requeued SLURM job's own `checkpoints/last.ckpt`, to resume from; None for a first start.

    submitit requeues a job that reaches its time limit (hydra.launcher.max_num_timeout) with the same overrides
    and run folder, and SLURM counts the restarts. last.ckpt holds the last finished epoch: resuming there keeps
    the run identical to an uninterrupted one, which a checkpoint taken mid-epoch would not (Lightning cannot
    resume an epoch's data order).
    """
    restarts = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
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
        "tasks": int(env("SLURM_NTASKS") or 1),
        "cpus_per_task": granted_cpus(),
        "restarts": int(env("SLURM_RESTART_COUNT") or 0),
    }
