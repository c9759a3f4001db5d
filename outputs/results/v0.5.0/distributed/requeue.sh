#!/bin/bash
# docs/distributed.md section 4: a run with more training than its 2-minute limit on the local SLURM cluster, and
# the same run uninterrupted (no SLURM, no limit) on the other core at the same time; both outputs kept here.
cd "$(dirname "$0")/../../../.."
D=outputs/results/v0.5.0/distributed
source .venv/bin/activate
rm -rf $D/requeue $D/uninterrupted $D/requeue.txt $D/uninterrupted_metrics.json
RUN="trainer.deterministic=true trainer.max_epochs=16 trainer.limit_train_batches=100 trainer.limit_val_batches=1 logger=csv"
{ git log -1 --format='commit %h'
  echo "\$ python -m mnist_lightning.train -m hydra/launcher=submitit_slurm hydra.launcher.partition=debug hydra.launcher.cpus_per_task=1 hydra.launcher.timeout_min=2 hydra.launcher.signal_delay_s=30 $RUN"
  python -m mnist_lightning.train -m hydra/launcher=submitit_slurm hydra.launcher.partition=debug hydra.launcher.cpus_per_task=1 \
      hydra.launcher.timeout_min=2 hydra.launcher.signal_delay_s=30 $RUN hydra.sweep.dir=$D/requeue &
  sleep 5
  python -m mnist_lightning.train $RUN torch_threads=1 hydra.run.dir=$D/uninterrupted >/dev/null 2>&1
  wait
  echo "\$ grep -h 'Requeued job\|resuming from' $D/requeue/0/train.log"; grep -h 'Requeued job\|resuming from' $D/requeue/0/train.log
  echo '$ sacct -X --duplicates -o JobID,State,Start,End | tail -3'; sacct -X --duplicates -o JobID,State,Start,End | tail -3
  for run in requeue/0 uninterrupted; do
      echo "\$ $run/metrics.json:"
      python -c "import json, sys; m = json.load(open(sys.argv[1])); print({k: m.get(k) for k in ('test/acc', 'test/loss', 'epochs')}, 'restarts:', (m.get('slurm') or {}).get('restarts'), 'val/loss per epoch:', [r['val/loss'] for r in m['history']])" $D/$run/metrics.json
  done
  echo "\$ wc -l $D/requeue/0/csv/metrics.csv $D/uninterrupted/csv/metrics.csv"; wc -l $D/requeue/0/csv/metrics.csv $D/uninterrupted/csv/metrics.csv
} > $D/requeue.txt 2>&1
rm -rf $D/requeue/0/checkpoints $D/uninterrupted/checkpoints  # 270 KB each, and not what the page shows
