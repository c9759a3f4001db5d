#!/bin/bash

# Parameters
#SBATCH --array=0-2%3
#SBATCH --cpus-per-task=2
#SBATCH --error=/work/main/outputs/results/v0.5.0/distributed/array/.submitit/%A_%a/%A_%a_0_log.err
#SBATCH --job-name=train
#SBATCH --mem=4GB
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --open-mode=append
#SBATCH --output=/work/main/outputs/results/v0.5.0/distributed/array/.submitit/%A_%a/%A_%a_0_log.out
#SBATCH --partition=debug
#SBATCH --signal=USR2@120
#SBATCH --time=60
#SBATCH --wckey=submitit

# command
export SUBMITIT_EXECUTOR=slurm
srun --unbuffered --output /work/main/outputs/results/v0.5.0/distributed/array/.submitit/%A_%a/%A_%a_%t_log.out --error /work/main/outputs/results/v0.5.0/distributed/array/.submitit/%A_%a/%A_%a_%t_log.err /work/main/.venv/bin/python -u -m submitit.core._submit /work/main/outputs/results/v0.5.0/distributed/array/.submitit/%j
