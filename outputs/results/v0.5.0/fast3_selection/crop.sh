#!/bin/bash
# Held-out trials for item 4 (2026-11-29, third session): experiment=fast's network on a centre crop of the image
# (model.net.crop: 2 -> 24 x 24, 0.56x fast's training FLOPs; 3 -> 22 x 22, 0.39x), same parameters. Trained on
# 55,000 images, scored on the 5,000 held out, never the test set; 1 torch thread, two trials at once.
# Run from the repository root: bash outputs/results/v0.5.0/fast3_selection/crop.sh
cd "$(dirname "$0")/../../../.."
out=outputs/results/v0.5.0/fast3_selection
held_out=(experiment=fast trainer.limit_val_batches=null data.val_size=5000 test=false optimized_metric=val/acc
          logger=csv torch_threads=1 callbacks.progress_bar.refresh_rate=1000)
trial() {  # name, overrides...
    local name=$1; shift
    [ -f "$out/$name/metrics.json" ] && return
    .venv/bin/python -m mnist_lightning.train "${held_out[@]}" "$@" "hydra.run.dir=$out/$name" > "$out/$name.log" 2>&1
}
for crop in 2 3; do
    for seed in 1 2; do trial crop${crop}_e3_s$seed seed=$seed +model.net.crop=$crop & done
    wait
done
