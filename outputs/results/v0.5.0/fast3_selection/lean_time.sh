#!/usr/bin/env bash
# Item 4, sixth session: whole project fits (2 threads, seed 1, one at a time on the idle machine) of fast and of lean_k4
# with the short-schedule knobs of tune_probe.txt, on the 55,000 training images of data.val_size=5000, validating one
# batch a epoch (test=false: the test set is not read). For the fit seconds (metrics.json train_seconds) only.
cd "$(dirname "$0")/../../../.."
common="experiment=fast data.val_size=5000 test=false optimized_metric=val/acc trainer.limit_val_batches=1 logger=csv seed=1"
lean="+model.net.downsample=stride model.net.transition=0 +model.net.halving_kernel=4"
knobs="scheduler.pct_start=0.15 scheduler.div_factor=10 model.label_smoothing=0.05"
run() { name=$1; shift; .venv/bin/python -m mnist_lightning.train $common "$@" hydra.run.dir=outputs/explore/lean_time/$name > /dev/null 2>&1
        python3 -c "import json;m=json.load(open('outputs/explore/lean_time/$name/metrics.json'));print('$name', round(m['train_seconds'],1), 'fit s', round(100*m['val/acc'],2))"; }
for round in 1 2; do
  run fast_r$round
  run A_b128_e2.5_r$round $lean $knobs data.batch_size=128 trainer.limit_train_batches=0.834
  run B_b128_e2_r$round $lean $knobs data.batch_size=128 trainer.max_epochs=2
  run C_b256_e2.5_r$round $lean $knobs trainer.limit_train_batches=0.834
done
