#!/bin/bash
# The time sitting of docs/speed.md at 0.5.0's code: experiment=fast_v1 and experiment=fast, seeds 1-3, one at a time
# and interleaved (fast_v1 seed 1, fast seed 1, fast_v1 seed 2, ...), on the otherwise idle machine, 2 torch threads,
# default logger and callbacks (the test also writes its TensorBoard diagnostics). Keeps each run's metrics.json,
# train.log and .hydra/ (checkpoints and event files are removed: the figures are in metrics.json).
# Run from the repository root with a clean tree: bash outputs/results/v0.5.0/time/run.sh
cd "$(dirname "$0")/../../../.."
out=outputs/results/v0.5.0/time
for seed in 1 2 3; do
    for recipe in fast_v1 fast; do
        dir=$out/$recipe/seed$seed
        [ -f "$dir/metrics.json" ] && continue
        .venv/bin/python -m mnist_lightning.train experiment=$recipe seed=$seed "hydra.run.dir=$dir" > /dev/null 2>&1
        rm -rf "$dir/checkpoints" "$dir"/events.out.tfevents.* "$dir/tensorboard"
    done
done
