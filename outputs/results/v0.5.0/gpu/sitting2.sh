#!/usr/bin/env bash
# The second, short GPU call of issue 15 (271 s of device time were left after sitting.sh): the data test that
# failed there, rerun after its fix, and bench, whose first try asked for more steps than an epoch at batch 256
# holds (now a one-line error). Same layout as sitting.sh; results in runs2/, packed into $OUT/gpu2.tgz.
set -u
export PYTHONUNBUFFERED=1
R=outputs/results/v0.5.0/gpu/runs2
mkdir -p "$R"
save() { [ -n "${OUT:-}" ] && tar czf "$OUT/gpu2.tgz" "$R"; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
echo "commit ${COMMIT:-unknown}" >"$R/machine.txt"
nvidia-smi --query-gpu=name,driver_version --format=csv >>"$R/machine.txt" 2>&1
timeout 45 python3 -m pytest -p no:cacheprovider -q -m gpu tests/test_data.py >"$R/pytest_gpu.txt" 2>&1
save
for precision in 32-true bf16-mixed; do
    repeats=3; [ $precision = bf16-mixed ] && repeats=2
    timeout 80 python3 -m mnist_lightning.bench trainer=gpu trainer.precision=$precision \
        'batch_sizes=[28,256]' repeats=$repeats eval_repeats=2 warmup_steps=20 steps=200 \
        hydra.run.dir="$R/bench/$precision" >"$R/bench_$precision.log" 2>&1
    save
done
