#!/bin/bash
# Copy the finished held-out runs of queue.sh from outputs/explore/ into this folder (metrics.json, train.log,
# .hydra/, metrics.csv), and the distillation teacher's run with its last.ckpt (291 KB), so the distilled runs can
# be repeated: their teacher is outputs/explore/teacher_fast6/checkpoints/last.ckpt, this folder's copy.
cd "$(dirname "$0")"
for run in ../../../explore/stack6_* ../../../explore/stack7_* ../../../explore/stack8_* ../../../explore/teacher_fast6; do
    [ -f "$run/metrics.json" ] || continue  # still running
    name=$(basename "$run"); mkdir -p "$name"
    cp -r "$run/metrics.json" "$run/train.log" "$run/.hydra" "$name/"
    cp "$run"/csv/metrics.csv "$name/" 2>/dev/null
    cp "$run.log" "$name.log" 2>/dev/null
done
mkdir -p teacher_fast6/checkpoints && cp ../../../explore/teacher_fast6/checkpoints/last.ckpt teacher_fast6/checkpoints/
# The final weights of the runs tta/probe.py scores (72 KB each).
for name in stack6_12_12_r3_res_same_s1 stack6_12_12_r3_res_same_s2 stack6_12_12_r3_res_s1 \
            stack6_12_12_r3_res_same_silu_s1 stack6_12_12_r3_res_same_stempad_s1 stack6_12_12_r3_res_same_leaky_s1 \
            stack6_12_12_r3_res_same_leaky02_s1 stack6_12_12_r3_res_same_leaky02_s2 \
            stack6_12_12_r3_res_same_lr04_s1 stack6_12_12_r3_res_same_e80_s1 \
            stack6_12_12_r3_res_same_b32_s1; do
    mkdir -p "$name/checkpoints" && cp "../../../explore/$name/checkpoints/last.ckpt" "$name/checkpoints/"
done
