#!/usr/bin/env bash
# The GPU sitting of 2026-11-29 (issue 26's session 7; 15 minutes of device time in all, start included), run once
# on a lent GPU machine from the repository root with today's code:
#   COMMIT=<sha> bash outputs/results/v0.5.0/gpu/sitting3.sh
# Hydra's three pure-Python wheels travel in .whl/ (that machine has torch and Lightning but not Hydra).
# Steps in order of priority, each with its own time limit, so a slow step cannot cost the ones before it:
#   1. the CUDA tests; 2. experiment=fast, seeds 1-3, one at a time; 3. bench in fp32 at batch 28 and 256;
#   4. if time is left, experiment=fast seed 1 with model.compile=true.
# Everything lands in $R (this folder's runs3/), packed into $OUT/gpu3.tgz after each step.
set -u
export PYTHONUNBUFFERED=1
START=$SECONDS
DEADLINE=${DEADLINE:-390}  # seconds this script may run in all
R=outputs/results/v0.5.0/gpu/runs3
mkdir -p "$R"
save() { [ -n "${OUT:-}" ] && tar czf "$OUT/gpu3.tgz" "$R"; }
left() { echo $((DEADLINE - (SECONDS - START))); }
stamp() { echo "$1 at $((SECONDS - START)) s" >>"$R/steps.txt"; }

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD

{
    echo "commit ${COMMIT:-unknown}"
    nvidia-smi
    python3 -c "import torch, pytorch_lightning, torchmetrics, hydra, sys; print(sys.version); \
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'lightning', pytorch_lightning.__version__, \
'torchmetrics', torchmetrics.__version__, 'hydra', hydra.__version__); print(torch.cuda.get_device_name(0))"
    lscpu | head -20
} >"$R/machine.txt" 2>&1
stamp machine
save

# 1. The CUDA tests: the gpu-marked ones and trainer=gpu among every shipped option.
timeout 100 python3 -m pytest -p no:cacheprovider -q -m gpu tests/test_data.py tests/test_speed_options.py \
    >"$R/pytest_gpu.txt" 2>&1
timeout 80 python3 -m pytest -p no:cacheprovider -q tests/test_every_option.py -k "trainer and gpu" \
    >>"$R/pytest_gpu.txt" 2>&1
stamp pytest
save

# 2. Time to 99.4% on the GPU: experiment=fast, seeds 1-3, back to back.
for seed in 1 2 3; do
    timeout 60 python3 -m mnist_lightning.train experiment=fast trainer=gpu seed=$seed \
        hydra.run.dir="$R/fast/seed$seed" >"$R/fast_seed$seed.log" 2>&1
    stamp "fast seed $seed"
done
save

# 3. bench: project vs bare vs notebook on the GPU in fp32 (bf16 was no faster in the first sitting).
timeout 130 python3 -m mnist_lightning.bench trainer=gpu trainer.precision=32-true \
    'batch_sizes=[28,256]' repeats=3 eval_repeats=2 warmup_steps=20 steps=200 \
    hydra.run.dir="$R/bench/32-true" >"$R/bench_32-true.log" 2>&1
stamp bench
save

# 4. torch.compile on the GPU, not measured in the first sitting.
if [ "$(left)" -gt 60 ]; then
    timeout $(($(left) - 5)) python3 -m mnist_lightning.train experiment=fast trainer=gpu seed=1 model.compile=true \
        hydra.run.dir="$R/fast_compile/seed1" >"$R/fast_compile_seed1.log" 2>&1
    stamp "fast compile seed 1"
fi
save
echo "done in $((SECONDS - START)) s"
