#!/bin/bash

# Parameters
#SBATCH --cpus-per-task=1
#SBATCH --error=/work/main/outputs/results/v0.5.0/distributed/requeue/.submitit/%j/%j_0_log.err
#SBATCH --job-name=train
#SBATCH --mem=4GB
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --open-mode=append
#SBATCH --output=/work/main/outputs/results/v0.5.0/distributed/requeue/.submitit/%j/%j_0_log.out
#SBATCH --partition=debug
#SBATCH --signal=USR2@30
#SBATCH --time=2
#SBATCH --wckey=submitit

# command
export SUBMITIT_EXECUTOR=slurm
srun --unbuffered --output /work/main/outputs/results/v0.5.0/distributed/requeue/.submitit/%j/%j_%t_log.out --error /work/main/outputs/results/v0.5.0/distributed/requeue/.submitit/%j/%j_%t_log.err /work/main/.venv/bin/python -u -m submitit.core._submit /work/main/outputs/results/v0.5.0/distributed/requeue/.submitit/%j
