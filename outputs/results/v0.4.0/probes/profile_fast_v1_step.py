"""One-off probe (0.4.0): torch.profiler over 20 training steps of the fast_v1 net (batch 256, channels_last).

2 torch threads.

python outputs/results/v0.4.0/probes/profile_fast_v1_step.py > outputs/results/v0.4.0/probes/profile_fast_v1_step.txt
"""

import torch
import torch.nn.functional as F
from mnist_lightning.nets import CompactNet
from torch.profiler import ProfilerActivity, profile

torch.set_num_threads(2)
net = CompactNet(block1=[16], transition=12, block2=[24, 24, 24, 24]).to(memory_format=torch.channels_last)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
images = torch.randn(256, 1, 28, 28).contiguous(memory_format=torch.channels_last)
labels = torch.randint(0, 10, (256,))


def step() -> None:
    loss = F.cross_entropy(net(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


for _ in range(5):  # warm-up
    step()
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(20):
        step()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
