#!/bin/bash
# Pre-registered test-set runs of experiment=pico_expanded60 (issue 26, item 2), committed before any of them ran:
# seeds 1-3 at the final (60th) epoch, 1 torch thread each, every number reported whatever it is. Seeds 1 and 2 ran
# side by side in the seventeenth session (there was not time for three 60-epoch runs before it ended); seed 3 runs
# in the next session: `run.sh 3`.
# Added after the start, changing nothing that is computed: seeds 1 and 2 could not finish their 60 epochs before the
# seventeenth session ended, so their folders were committed mid-run with checkpoints/last.ckpt (the last finished
# epoch). The next session goes on from there, which the project makes the same run as an uninterrupted one (the
# random states are in the checkpoint, run/callbacks.py RngState): `run.sh resume 1 2`.
cd "$(dirname "$0")/../../../.."
D=outputs/results/v0.5.0/pico_expanded60
run() {
    .venv/bin/python -m mnist_lightning.train experiment=pico_expanded60 seed=$1 torch_threads=1 logger=csv \
        callbacks.progress_bar.refresh_rate=1000 hydra.run.dir=$D/seed$1 > $D/seed$1.log 2>&1
    rm -rf $D/seed$1/csv
}
resume() {
    .venv/bin/python -m mnist_lightning.train experiment=pico_expanded60 seed=$1 torch_threads=1 logger=csv \
        callbacks.progress_bar.refresh_rate=1000 hydra.run.dir=$D/seed$1 ckpt_path=$D/seed$1/checkpoints/last.ckpt \
        >> $D/seed$1.log 2>&1
    rm -rf $D/seed$1/csv
}
if [ "$1" = resume ]; then
    shift
    for seed in "$@"; do resume "$seed" & done
    wait
    exit
fi
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2 3)
for seed in "${seeds[@]}"; do run "$seed" & done
wait
