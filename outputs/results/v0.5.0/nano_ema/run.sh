#!/bin/bash
# experiment=nano_ema, seeds 1-3, final-epoch test accuracy: the three side by side, 1 thread each, on 2 cores
# (with other work at times; the timings are not a measure). Kept: metrics.json, .hydra/ and train.log of each.
cd "$(dirname "$0")/../../../.."
D=outputs/results/v0.5.0/nano_ema
run() {
    .venv/bin/python -m mnist_lightning.train experiment=nano_ema seed=$1 torch_threads=1 logger=csv \
        callbacks.progress_bar.refresh_rate=1000 hydra.run.dir=$D/seed$1 > $D/seed$1.log 2>&1
    rm -rf $D/seed$1/checkpoints $D/seed$1/csv
}
run 1 & run 2 & run 3 & wait
