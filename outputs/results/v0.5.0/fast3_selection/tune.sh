#!/usr/bin/env bash
# Runs tune_probe.py for seeds SEEDS (default 1-4) of one setting (given as VAR=value words), two at a time, 1 thread
# each; appends to tune_probe.txt. From the project folder:
#   bash outputs/results/v0.5.0/fast3_selection/tune.sh NET=lean_k4 EPOCHS=2.5
d=outputs/results/v0.5.0/fast3_selection
seeds=(${SEEDS:-1 2 3 4})
for ((i = 0; i < ${#seeds[@]}; i += 2)); do
  for s in "${seeds[@]:i:2}"; do env "$@" SEED=$s .venv/bin/python $d/tune_probe.py 2>/dev/null | tee -a $d/tune_probe.txt & done
  wait
done
