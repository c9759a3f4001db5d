#!/usr/bin/env bash
# Item 4, sixth session (2026-11-29): lean_k4 with the short-schedule knobs that tune_probe.py's bare loop suggested
# (tune_probe.txt: OneCycle warm-up 15% of the steps instead of 25%, starting at max_lr / 10 instead of / 25, label
# smoothing 0.05 instead of 0.1; at batch 128 they came within 0.02 points of fast held out there, 99.21% against 99.22% over seeds 1-8),
# now through the project (held out as stride2.sh, 1 thread, two at a time on the otherwise idle machine).
# Run from the repository root: bash outputs/results/v0.5.0/fast3_selection/lean_knobs.sh
cd "$(dirname "$0")/../../../.."
out=outputs/results/v0.5.0/fast3_selection
held_out=(experiment=fast trainer.limit_val_batches=null data.val_size=5000 test=false optimized_metric=val/acc
          logger=csv torch_threads=1 callbacks.progress_bar.refresh_rate=1000)
lean=(+model.net.downsample=stride model.net.transition=0 +model.net.halving_kernel=4)
knobs=(scheduler.pct_start=0.15 scheduler.div_factor=10 model.label_smoothing=0.05)
trial() {  # name, overrides...
    local name=$1; shift
    [ -f "$out/$name/metrics.json" ] && return
    .venv/bin/python -m mnist_lightning.train "${held_out[@]}" "$@" "hydra.run.dir=$out/$name" > "$out/$name.log" 2>&1
}
for seeds in "1 2" "3 4"; do
  for seed in $seeds; do trial knobs_b128_e2.5_s$seed seed=$seed "${lean[@]}" "${knobs[@]}" data.batch_size=128 trainer.limit_train_batches=0.834 & done
  wait
done
for seeds in "1 2" "3 4"; do
  for seed in $seeds; do trial knobs_b256_e2.5_s$seed seed=$seed "${lean[@]}" "${knobs[@]}" trainer.limit_train_batches=0.834 & done
  wait
done
for seeds in "1 2" "3 4"; do
  for seed in $seeds; do trial knobs_b128_e2_s$seed seed=$seed "${lean[@]}" "${knobs[@]}" data.batch_size=128 trainer.max_epochs=2 & done
  wait
done
# Ended (val/acc, seeds 1-4): batch 128 for 2.5 epochs 99.22, 99.20, 99.38, 99.26 (mean 99.265); batch 256 for 2.5
# epochs 99.08, 99.28, 99.16, 99.14 (99.165); batch 128 for 2 epochs 99.18, 99.10, 99.10, 99.08 (99.115). fast's
# held-out figures for seeds 1-4 (99.30, 99.28, 99.16, 99.18; mean 99.23) came from older code (v0.4.0's fast_trials and
# stride.sh's notes), so fast is run again here with today's code, seeds 1-8, and the batch-128 2.5-epoch recipe on
# seeds 5-8 as well.
for seeds in "5 6" "7 8"; do
  for seed in $seeds; do trial knobs_b128_e2.5_s$seed seed=$seed "${lean[@]}" "${knobs[@]}" data.batch_size=128 trainer.limit_train_batches=0.834 & done
  wait
done
for seeds in "1 2" "3 4" "5 6" "7 8"; do
  for seed in $seeds; do trial fast_today_s$seed seed=$seed & done
  wait
done
# Ended (val/acc): batch 128 for 2.5 epochs, seeds 5-8: 99.16, 99.10, 99.14, 99.14 (seeds 1-8: mean 99.20); fast with
# today's code, seeds 1-8: 99.30, 99.28, 99.16, 99.18, 99.30, 99.12, 99.26, 99.32 (mean 99.24; seeds 1-4 as the older
# figures to the digit). So on the seeds that chose nothing (5-8) the knobs scored 99.135 against fast's 99.25, and over
# all eight 0.04 points below fast: by the rule of docs/speed.md (not at least fast's held-out accuracy), it was not run
# on the test set. Its fit also took about 0.5x of fast's (lean_time.txt), no margin under the half.
