"""Thin subclasses of hydra-submitit-launcher's launchers (Hydra instantiates launchers only from `hydra_plugins`).

Submission, arrays, requeueing and logs stay the plugin's and submitit's; these add what they leave to the user.
Hydra imports every module under hydra_plugins at start, so without the `cluster` extra this one defines nothing.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from hydra.core.utils import JobReturn

from mnist_lightning.base.errors import remove_unused_sweep_folder
from mnist_lightning.run.cluster import CPUS_PER_JOB_ENV

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
except ImportError:  # pip install -e ".[cluster]" brings it
    pass
else:
    from submitit.core.utils import FailedJobError

    def refuse(message: str, config=None) -> None:
        """A plain exit: Hydra would print an exception raised from a launcher with its stack trace. With the sweep's
        `config`, before anything was submitted: Hydra's new sweep folder, holding only its multirun.yaml, goes."""
        if config is not None:
            remove_unused_sweep_folder(config.hydra)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)

    def largest_node_cpus(partition: str) -> int | None:
        """The most CPUs a node of `partition` has, from `sinfo`; None where sinfo cannot say (no sinfo, no such
        partition: then sbatch judges)."""
        if shutil.which("sinfo") is None:
            return None
        # --exact: a line per node size; without it sinfo folds sizes into "<smallest>+".
        command = ["sinfo", "--noheader", "--exact", "--partition", partition, "--format", "%c"]
        try:
            found = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return None
        counts = [int(word) for word in found.stdout.split() if word.isdecimal()]
        return max(counts) if found.returncode == 0 and counts else None

    class CheckedSlurmLauncher(SlurmLauncher):
        """hydra/launcher=submitit_slurm: refuses, in one line, a sweep with no partition to submit to, one that
        asks for more CPUs per job than a node of the partition has (it would wait in the queue for ever), and one
        that sbatch rejects."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            partition = self.params.get("partition")
            if partition in (None, "", "???"):
                refuse(
                    "hydra.launcher.partition is not set: name your cluster's partition (queue), "
                    "e.g. hydra.launcher.partition=debug on scripts/local_slurm.sh's cluster (`sinfo` lists them)",
                    self.config,
                )
            cpus = (self.params.get("cpus_per_task") or 1) * (self.params.get("tasks_per_node") or 1)
            node_cpus = largest_node_cpus(str(partition))
            if node_cpus is not None and cpus > node_cpus:
                refuse(
                    f"a job asks for {cpus} CPUs (hydra.launcher.cpus_per_task x tasks_per_node) and the nodes of "
                    f"partition {partition} have at most {node_cpus} (sinfo): SLURM would keep it waiting for ever",
                    self.config,
                )
            try:
                return super().launch(job_overrides, initial_job_idx)
            except FailedJobError as error:
                if not isinstance(error.__cause__, subprocess.CalledProcessError):  # a job that ran and failed
                    raise
                lines = [line.strip() for line in str(error).splitlines() if line.strip()]
                reason = next((line for line in lines if "error" in line), lines[0] if lines else "sbatch failed")
                refuse(f"SLURM refused the sweep ({reason}): check hydra.launcher.* against `sinfo`")

    class SharedCoresLocalLauncher(LocalLauncher):
        """hydra/launcher=submitit_local: a sweep's jobs all start at once, so each gets cores / jobs threads."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            cpus = self.params.get("cpus_per_task") or max(1, len(os.sched_getaffinity(0)) // len(job_overrides))
            before = os.environ.get(CPUS_PER_JOB_ENV)
            os.environ[CPUS_PER_JOB_ENV] = str(cpus)  # the jobs are this process's children: they inherit it
            try:
                return super().launch(job_overrides, initial_job_idx)
            finally:  # not left behind for what this process runs next
                if before is None:
                    os.environ.pop(CPUS_PER_JOB_ENV, None)
                else:
                    os.environ[CPUS_PER_JOB_ENV] = before
