#!/bin/bash
# Round 25 (held out): 9-view fine-tune against a one-view control, seeds 1 and 2 side by side, 1 thread each.
cd "$(dirname "$0")/../../../../.."
d=outputs/results/v0.5.0/pico6_selection/viewtrain
p() { .venv/bin/python $d/probe.py p6_dilgem_expand4_s$1 $2 > $d/s$1_$2.txt 2>&1; }
p 1 views & p 2 views & wait
p 1 one & p 2 one & wait
# then: 3 epochs at lr 2e-3 (the first at 5e-4 for 1 epoch changed nothing)
q() { .venv/bin/python $d/probe.py p6_dilgem_expand4_s$1 $2 $3 $4 > $d/s$1_$2_lr$3_e$4.txt 2>&1; }
