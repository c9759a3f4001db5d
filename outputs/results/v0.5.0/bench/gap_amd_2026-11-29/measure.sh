#!/usr/bin/env bash
# The sitting of 2026-11-29 (later) on a 2-core AMD EPYC (AVX2): what the project adds to a training step, before
# (OLD: a worktree of the commit before the change, with the MNIST files copied in) and after (this tree).
# Run from the project folder on an idle machine: bash outputs/results/v0.5.0/bench/gap_amd_2026-11-29/measure.sh OLD
# OLD was made with `git worktree add /tmp/old 727df08 && cp data/MNIST/raw/*ubyte /tmp/old/data/MNIST/raw/` (the
# unpacked MNIST files are not tracked). Afterwards: `python paired.py bench_old/bench.json bench_new/bench.json`
# (in this folder) > paired.txt. (These three comment lines were added after the run.)
set -euo pipefail
HERE=$PWD
OLD=$1
D=outputs/results/v0.5.0/bench/gap_amd_2026-11-29
PY=$HERE/.venv/bin/python
lscpu > $D/cpu.txt
{ echo "old = $(git -C $OLD rev-parse --short HEAD), new = $(git rev-parse --short HEAD) (dirty: $(git status --porcelain --untracked-files=no | wc -l) files)"
  for i in 1 2 3; do  # alternate processes: old, new
    echo "old"; (cd $OLD && PYTHONPATH=$OLD $PY $HERE/$D/ab.py 28 1000 3 linear 2>&1 | grep "^batch")
    echo "new"; $PY $D/ab.py 28 1000 3 linear 2>&1 | grep "^batch"
  done; } > $D/ab_linear.txt
(cd $OLD && PYTHONPATH=$OLD $PY $HERE/$D/prof_linear.py 2>&1 | sed -n '/own us/,$p') > $D/prof_linear_old.txt
$PY $D/prof_linear.py 2>&1 | sed -n '/own us/,$p' > $D/prof_linear_new.txt
# bench itself, 9 repeats each, the old code first
(cd $OLD && PYTHONPATH=$OLD $PY -m mnist_lightning.bench repeats=9 hydra.run.dir=$HERE/$D/bench_old) > $D/bench_old.txt 2>&1
$PY -m mnist_lightning.bench repeats=9 hydra.run.dir=$D/bench_new > $D/bench_new.txt 2>&1
