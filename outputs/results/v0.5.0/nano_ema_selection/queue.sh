#!/bin/bash
# #26 exploration on held-out images (never the test set): nano variants, 1 thread, one after another.
cd /work/main
common="data.val_size=5000 test=false optimized_metric=val/acc torch_threads=1 logger=csv callbacks.progress_bar.refresh_rate=1000"
run() { name=$1; shift; [ -f outputs/explore/$name/metrics.json ] && return; .venv/bin/python -m mnist_lightning.train $common hydra.run.dir=outputs/explore/$name "$@" > outputs/explore/$name.log 2>&1; }
run nano_ema_s1 experiment=nano seed=1 +callbacks.ema._target_=pytorch_lightning.callbacks.EMAWeightAveraging +callbacks.ema.decay=0.999
run nano_base_s1 experiment=nano seed=1
run nano_60_s1 experiment=nano seed=1 trainer.max_epochs=60
run nano_ema_s2 experiment=nano seed=2 +callbacks.ema._target_=pytorch_lightning.callbacks.EMAWeightAveraging +callbacks.ema.decay=0.999
run nano_base_s2 experiment=nano seed=2
