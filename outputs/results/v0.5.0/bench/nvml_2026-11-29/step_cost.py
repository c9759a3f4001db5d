"""CPU time of one optimizer.step() (fused Adam, the reference net) with torch's NVML-based CUDA check on (as
importing Lightning leaves it) and off (base/nvml.py turns it off where NVML cannot start), 1 thread, interleaved.
Run from the project folder: .venv/bin/python outputs/results/v0.5.0/bench/nvml_2026-11-29/step_cost.py"""

import os
import statistics
import time

import pytorch_lightning  # noqa: F401  (sets PYTORCH_NVML_BASED_CUDA_CHECK=1)
import torch

from mnist_lightning.model.nets import ReferenceNet

torch.set_num_threads(1)
net = ReferenceNet()
optimizer = torch.optim.Adam(net.parameters(), lr=0.003, fused=True)
net(torch.randn(28, 1, 28, 28)).sum().backward()
cost = {"1": [], "0": []}
for _ in range(7):
    for flag in ("1", "0"):
        os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = flag
        start = time.process_time()
        for _ in range(500):
            optimizer.step()
        cost[flag].append((time.process_time() - start) / 500 * 1e3)
print(f"torch {torch.__version__}, NVML loads: {os.path.exists('/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1')}")
for flag, values in cost.items():
    print(f"check {'on ' if flag == '1' else 'off'}: {statistics.median(values):.3f} ms a step (median of 7 x 500)")
