#!/bin/bash
# Pre-registered test-set runs of experiment=pico_expanded60 (issue 26, item 2), committed before any of them ran:
# seeds 1-3 at the final (60th) epoch, 1 torch thread each, every number reported whatever it is. Seeds 1 and 2 ran
# side by side in the seventeenth session (there was not time for three 60-epoch runs before it ended); seed 3 runs
# in the next session: `run.sh 3`.
cd "$(dirname "$0")/../../../.."
D=outputs/results/v0.5.0/pico_expanded60
run() {
    .venv/bin/python -m mnist_lightning.train experiment=pico_expanded60 seed=$1 torch_threads=1 logger=csv \
        callbacks.progress_bar.refresh_rate=1000 hydra.run.dir=$D/seed$1 > $D/seed$1.log 2>&1
    rm -rf $D/seed$1/csv
}
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2 3)
for seed in "${seeds[@]}"; do run "$seed" & done
wait
