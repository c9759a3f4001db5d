#!/bin/bash
# The commands of docs/distributed.md, run as a user would from the repository root, on the local SLURM cluster
# (scripts/local_slurm.sh start); each output is kept beside this script.
cd "$(dirname "$0")/../../../.."
D=outputs/results/v0.5.0/distributed
source .venv/bin/activate
rm -rf $D/array $D/ddp $D/search $D/array.txt $D/ddp.txt $D/search.txt $D/machine.txt $D/status.txt
{ echo "\$ git log -1 --format=%h"; git log -1 --format=%h; echo "\$ lscpu | grep 'Model name'"; lscpu | grep "Model name"; } > $D/machine.txt
{ echo '$ scripts/local_slurm.sh status'; scripts/local_slurm.sh status; } > $D/status.txt 2>&1

{ echo '$ python -m mnist_lightning.train -m hydra/launcher=submitit_slurm hydra.launcher.partition=debug seed=1,2,3 trainer.fast_dev_run=true'
  time python -m mnist_lightning.train -m hydra/launcher=submitit_slurm hydra.launcher.partition=debug seed=1,2,3 trainer.fast_dev_run=true hydra.sweep.dir=$D/array
  echo '$ sacct -X -o JobID,JobName,State,Elapsed,NodeList'; sacct -X -o JobID,JobName,State,Elapsed,NodeList
  echo "\$ python -m mnist_lightning.report $D/array"; python -m mnist_lightning.report $D/array; } > $D/array.txt 2>&1

# Section 4 (requeue) is requeue.sh beside this script: rerun with commit 0.5.0's fixes, beside an uninterrupted run.

{ echo '$ python -m mnist_lightning.train -m hydra/launcher=submitit_slurm hydra.launcher.partition=debug hydra.launcher.tasks_per_node=2 hydra.launcher.cpus_per_task=1 trainer=ddp_cpu trainer.max_epochs=2'
  time python -m mnist_lightning.train -m hydra/launcher=submitit_slurm hydra.launcher.partition=debug hydra.launcher.tasks_per_node=2 hydra.launcher.cpus_per_task=1 trainer=ddp_cpu trainer.max_epochs=2 logger=csv hydra.sweep.dir=$D/ddp
  echo "\$ ls $D/ddp/0 $D/ddp/0/checkpoints"; ls $D/ddp/0 $D/ddp/0/checkpoints; } > $D/ddp.txt 2>&1

{ echo '$ sbatch --array=0-1 --cpus-per-task=1 --wait ... (the command of docs/distributed.md section 6)'
  time sbatch --array=0-1 --cpus-per-task=1 --wait --output=$D/search/worker-%a.log --wrap \
    "python -m mnist_lightning.train hparams_search=optuna hydra.sweeper.n_trials=4 hydra.sweeper.storage=sqlite:///$D/search/study.db hydra.sweep.dir=$D/search/worker-\$SLURM_ARRAY_TASK_ID trainer.max_epochs=1 trainer.limit_train_batches=20 trainer.limit_val_batches=2"
  for w in 0 1; do echo "\$ cat $D/search/worker-$w.log"; cat $D/search/worker-$w.log; done; } > $D/search.txt 2>&1
echo done > $D/finished
