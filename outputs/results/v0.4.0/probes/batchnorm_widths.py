"""One-off probe (0.4.0): BatchNorm2d forward + backward time per element, NCHW against channels_last, by width.

python outputs/results/v0.4.0/probes/batchnorm_widths.py > outputs/results/v0.4.0/probes/batchnorm_widths.txt
"""

import time

import torch

torch.set_num_threads(2)
SHAPES = [(256, 8, 13, 13), (256, 12, 13, 13), (256, 16, 13, 13), (256, 32, 11, 11), (256, 24, 11, 11),
          (256, 16, 11, 11), (256, 32, 26, 26), (256, 8, 26, 26)]  # fmt: skip
for shape in SHAPES:
    for channels_last in (False, True):
        bn = torch.nn.BatchNorm2d(shape[1])
        x = torch.randn(*shape)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x.requires_grad_()
        for _ in range(3):  # warm-up
            y = bn(x)
            y.backward(torch.ones_like(y))
        start = time.perf_counter()
        for _ in range(20):
            y = bn(x)
            y.backward(torch.ones_like(y))
        seconds = (time.perf_counter() - start) / 20
        layout = "NHWC" if channels_last else "NCHW"
        print(shape, layout, f"{seconds * 1000:.2f} ms fwd+bwd, {seconds * 1e9 / x.numel():.2f} ns/elt")
