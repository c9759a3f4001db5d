"""cProfile of bench's project loop (reference net, 600 timed steps at batch 28, 2 threads): what the project's
training path spends per step besides the network. Run from the project folder:
    .venv/bin/python outputs/results/v0.5.0/bench/profile_step.py > outputs/results/v0.5.0/bench/profile_<commit>.txt
"""

import cProfile
import pstats
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from mnist_lightning.benchmarks.loops import project_loop

with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("bench", overrides=["paths.output_dir=/tmp/profile_run", "warmup_steps=10", "steps=600"])
torch.set_num_threads(2)
project_loop(cfg, 28)  # warm-up run: kernels, allocator
profile = cProfile.Profile()
profile.enable()
print("project loop (train images/s, eval images/s):", project_loop(cfg, 28))
profile.disable()
stats = pstats.Stats(profile)
stats.sort_stats("tottime").print_stats(30)
stats.sort_stats("cumtime").print_stats("torchmetrics|result.py|apply_func|call.py|_device_count_nvml", 12)
