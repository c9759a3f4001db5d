#!/bin/bash
# Issue 26, item 4, seventh session: ONE reading of the test set for the closest held-out candidate, decided before
# running and committed with this script. Nothing here is chosen on its result; no other item-4 candidate will be
# run on the test set this round, whatever it gives.
#
# Candidate (chosen on the 5,000 held-out images only, fast3_selection/lean_knobs.sh): lean_k4 (a 4 x 4 stride-2 first
# convolution instead of conv + MaxPool, no 1x1 transition) with the short-schedule knobs (warm-up 15% of the steps,
# starting at max_lr / 10, label smoothing 0.05) at batch 128 for 2.5 epochs' images. Held out, seeds 1-8: 99.20%
# against fast's 99.24%, so it is not better than fast there; it is read once because every other route of
# docs/speed.md ended further away, and its fit took about 0.5x of fast's.
#
# The sitting: today's experiment=fast and the candidate, seeds 1-3, one at a time and interleaved (fast seed 1,
# lean seed 1, fast seed 2, ...), 2 torch threads, default logger and callbacks, on the otherwise idle machine.
# Item 4 is met only if the candidate's mean test accuracy is >= 99.40%, no seed is below 99.35%, and its mean fit +
# test seconds are <= 0.50x of fast's in this sitting. Printed by summary.py beside this script.
# Run from the repository root with a clean tree: bash outputs/results/v0.5.0/time_lean/run.sh
cd "$(dirname "$0")/../../../.."
out=outputs/results/v0.5.0/time_lean
lean=(+model.net.downsample=stride model.net.transition=0 +model.net.halving_kernel=4
      scheduler.pct_start=0.15 scheduler.div_factor=10 model.label_smoothing=0.05
      data.batch_size=128 trainer.limit_train_batches=0.834)
for seed in 1 2 3; do
    for recipe in fast lean; do
        dir=$out/$recipe/seed$seed
        [ -f "$dir/metrics.json" ] && continue
        extra=(); [ $recipe = lean ] && extra=("${lean[@]}")
        .venv/bin/python -m mnist_lightning.train experiment=fast seed=$seed "${extra[@]}" "hydra.run.dir=$dir" > /dev/null 2>&1
        rm -rf "$dir/checkpoints" "$dir"/events.out.tfevents.* "$dir/tensorboard"
    done
done
.venv/bin/python $out/summary.py | tee $out/summary.txt
