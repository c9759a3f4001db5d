"""One-off probe (item 4, 2026-11-29): bare training steps (fused Adam, channels_last, batch 256, 2 threads) of
model=fast's network against the same widths with the strided stem (model.net.downsample=stride) and without the 1x1
transition as well (model.net.transition=0), five interleaved repeats of 20 steps after 5 of warm-up; then
torch.profiler's top operators of fast's step with their input shapes. Prints; nothing is chosen from it.
Run on an idle machine from the project folder:
  .venv/bin/python outputs/results/v0.5.0/fast3_selection/step_probe.py > outputs/results/v0.5.0/fast3_selection/step_probe.txt
"""

import time

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from mnist_lightning.model.nets import CompactNet

torch.set_num_threads(2)
widths = dict(block1=[16], block2=[16, 16, 32, 32])
NETS = {
    "fast": CompactNet(**widths, transition=16),
    "strided": CompactNet(**widths, transition=16, downsample="stride"),
    "strided, transition=0": CompactNet(**widths, transition=0, downsample="stride"),
}
images = torch.randn(256, 1, 28, 28).contiguous(memory_format=torch.channels_last)
labels = torch.randint(0, 10, (256,))
nets = {name: net.to(memory_format=torch.channels_last) for name, net in NETS.items()}
optimizers = {name: torch.optim.Adam(net.parameters(), lr=1e-3, fused=True) for name, net in nets.items()}


def step(name: str) -> None:
    loss = F.cross_entropy(nets[name](images), labels)
    optimizers[name].zero_grad()
    loss.backward()
    optimizers[name].step()


for name in nets:
    for _ in range(5):
        step(name)
times = {name: [] for name in nets}
for _ in range(5):
    for name in nets:
        start = time.perf_counter()
        for _ in range(20):
            step(name)
        times[name].append((time.perf_counter() - start) / 20 * 1e3)
fast = sorted(times["fast"])[2]
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 256; ms per step, median (min-max) of 5")
for name, ms in times.items():
    ms.sort()
    print(f"{name:24} {ms[2]:5.1f} ({ms[0]:.1f}-{ms[-1]:.1f})  {ms[2] / fast:.2f}x fast")
with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    for _ in range(20):
        step("fast")
print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=14,
                                                         max_name_column_width=36, max_shapes_column_width=56))
