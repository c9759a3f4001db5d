"""Hydra's submitit launchers with the project's checks: a SLURM sweep without a partition is refused before
anything is submitted, and parallel local jobs share the cores instead of each taking all of them."""
