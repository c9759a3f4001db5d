#!/bin/bash
# Round 25 (held out, 2026-12-07, commit 075e724): 9-view fine-tune against a one-view control, seeds 1 and 2 side
# by side, 1 thread each. Outputs: s<seed>_<mode>[_lr<lr>_e<epochs>].txt
cd "$(dirname "$0")/../../../../.."
d=outputs/results/v0.5.0/pico6_selection/viewtrain
p() { .venv/bin/python $d/probe.py p6_dilgem_expand4_s$1 "${@:2}" > $d/s$1_$2${3:+_lr$3_e$4}.txt 2>&1; }
p 1 views & p 2 views & wait  # 1 epoch at lr 5e-4
p 1 one & p 2 one & wait
p 1 views 2e-3 3 & p 2 views 2e-3 3 & wait  # 3 epochs at lr 2e-3 (the first changed nothing)
