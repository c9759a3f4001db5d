#!/bin/bash
# experiment=pico_expanded, seeds 1-3, final-epoch test accuracy (with its 9-view test-time augmentation): the three
# side by side, 1 thread each, on 2 cores (the timings are not a measure). Pre-registered: the recipe was chosen on
# held-out images in the sixteenth session (docs/results.md, "Round twenty-four"; pico6_selection/queue.sh) and this
# script was committed before it ran. Kept: metrics.json, .hydra/, train.log and checkpoints/last.ckpt of each.
cd "$(dirname "$0")/../../../.."
D=outputs/results/v0.5.0/pico_expanded
run() {
    .venv/bin/python -m mnist_lightning.train experiment=pico_expanded seed=$1 torch_threads=1 logger=csv \
        callbacks.progress_bar.refresh_rate=1000 hydra.run.dir=$D/seed$1 > $D/seed$1.log 2>&1
    rm -rf $D/seed$1/csv
}
run 1 & run 2 & run 3 & wait
