#!/usr/bin/env bash
# The second call of the 2026-11-29 GPU sitting, run at once after sitting3.sh on the same warm machine (the exact
# command, as one line there): the reference recipe, seeds 1-3, three processes sharing the one H200, without
# TensorBoard and the progress bar. Results in runs3b/, packed into $OUT/gpu3b.tgz.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
R=outputs/results/v0.5.0/gpu/runs3b
mkdir -p $R
S=$SECONDS
for s in 1 2 3; do
    timeout 450 python3 -m mnist_lightning.train experiment=reference trainer=gpu seed=$s logger=none \
        '~callbacks.progress_bar' +trainer.enable_progress_bar=false hydra.run.dir=$R/reference/seed$s \
        >$R/reference_seed$s.log 2>&1 &
done
wait
echo "done in $((SECONDS - S)) s" >$R/steps.txt
tar czf $OUT/gpu3b.tgz $R
