#!/bin/bash
# Copy the finished held-out runs of queue.sh from outputs/explore/ into this folder: metrics.json, train.log, .hydra/,
# metrics.csv, the console log and the final weights (last.ckpt, about 75 KB).
cd "$(dirname "$0")"
for run in ../../../explore/p6_*; do
    [ -f "$run/metrics.json" ] || continue  # still running, or a console log
    name=$(basename "$run"); mkdir -p "$name/checkpoints"
    cp -r "$run/metrics.json" "$run/train.log" "$run/.hydra" "$name/"
    cp "$run"/csv/metrics.csv "$name/" 2>/dev/null
    cp "$run.log" "$name.log" 2>/dev/null
    cp "$run/checkpoints/last.ckpt" "$name/checkpoints/"
done
