"""Thin subclasses of hydra-submitit-launcher's launchers (Hydra instantiates launchers only from `hydra_plugins`).

Submission, arrays, requeueing and logs stay the plugin's and submitit's; these add what they leave to the user.
Hydra imports every module under hydra_plugins at start, so without the `cluster` extra this one defines nothing.
"""

import os
import sys
from collections.abc import Sequence

from hydra.core.utils import JobReturn

from mnist_lightning.run.cluster import CPUS_PER_JOB_ENV

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
except ImportError:  # pip install -e ".[cluster]" brings it
    pass
else:

    class CheckedSlurmLauncher(SlurmLauncher):
        """hydra/launcher=submitit_slurm: refuses, in one line, a sweep with no partition to submit to."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            if self.params.get("partition") in (None, "", "???"):
                # A plain exit: Hydra would print an exception raised here with its stack trace.
                print(
                    "error: hydra.launcher.partition is not set: name your cluster's partition (queue), "
                    "e.g. hydra.launcher.partition=debug on scripts/local_slurm.sh's cluster (`sinfo` lists them)",
                    file=sys.stderr,
                )
                sys.exit(2)
            return super().launch(job_overrides, initial_job_idx)

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
