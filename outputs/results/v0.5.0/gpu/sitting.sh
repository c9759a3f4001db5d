#!/usr/bin/env bash
# The GPU sitting of issue 15, run once on a lent GPU machine from the repository root:
#   bash outputs/results/v0.5.0/gpu/sitting.sh
# That machine has torch and Lightning but not Hydra, so Hydra's three pure-Python wheels travel in .whl/.
# Steps in order of priority, each with its own time limit, so a slow step cannot cost the ones before it:
#   1. the CUDA tests; 2. experiment=fast, seeds 1-3, one at a time, then seed 1 without logger and progress bar;
#   3. bench (fp32, then bf16-mixed); 4. the reference recipe, seeds 1-3, three processes sharing the GPU.
# Everything lands in $R (this folder's runs/), packed into $OUT/gpu.tgz after each step.
set -u
export PYTHONUNBUFFERED=1
START=$SECONDS
DEADLINE=${DEADLINE:-575}  # seconds this script may run in all
R=outputs/results/v0.5.0/gpu/runs
mkdir -p "$R"
save() { [ -n "${OUT:-}" ] && tar czf "$OUT/gpu.tgz" "$R"; }
left() { echo $((DEADLINE - (SECONDS - START))); }

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
save

# 1. The CUDA tests: the gpu-marked ones and trainer=gpu among every shipped option.
timeout 200 python3 -m pytest -p no:cacheprovider -q -m gpu tests/test_data.py tests/test_speed_options.py \
    >"$R/pytest_gpu.txt" 2>&1
timeout 120 python3 -m pytest -p no:cacheprovider -q tests/test_every_option.py -k "trainer and gpu" \
    >>"$R/pytest_gpu.txt" 2>&1
save

# 2. Time to 99.4% on the GPU: experiment=fast, seeds 1-3, back to back.
for seed in 1 2 3; do
    timeout 120 python3 -m mnist_lightning.train experiment=fast trainer=gpu seed=$seed \
        hydra.run.dir="$R/fast/seed$seed" >"$R/fast_seed$seed.log" 2>&1
done
# Where the time goes: the same run without TensorBoard and without the progress bar.
timeout 120 python3 -m mnist_lightning.train experiment=fast trainer=gpu seed=1 logger=none \
    '~callbacks.progress_bar' +trainer.enable_progress_bar=false \
    hydra.run.dir="$R/fast_bare/seed1" >"$R/fast_bare_seed1.log" 2>&1
save

# 3. bench: project vs bare vs notebook on the GPU, fp32 then bf16-mixed (longer timed stretch than on the CPU:
# a GPU step is short).
for precision in 32-true bf16-mixed; do
    timeout 150 python3 -m mnist_lightning.bench trainer=gpu trainer.precision=$precision \
        'batch_sizes=[28,256]' repeats=3 warmup_steps=30 steps=300 \
        hydra.run.dir="$R/bench/$precision" >"$R/bench_$precision.log" 2>&1
    save
done

# 4. The reference recipe (20 epochs at batch 28), seeds 1-3, three processes on the one GPU at once.
budget=$(($(left) - 10))
echo "reference: $budget s left" >"$R/reference_budget.txt"
for seed in 1 2 3; do
    timeout $budget python3 -m mnist_lightning.train experiment=reference trainer=gpu seed=$seed \
        hydra.run.dir="$R/reference/seed$seed" >"$R/reference_seed$seed.log" 2>&1 &
done
wait
save
echo "done in $((SECONDS - START)) s"
