"""Held-out probe (2026-11-29, sixth session): do the BatchNorm statistics that came with the moving average of the
weights cost the pico nets accuracy? Lightning's EMAWeightAveraging averages the BatchNorm running statistics as it
averages the weights (use_buffers=True), so the statistics the averaged net is scored with are an average over the
nets of the last steps, not the averaged net's own. torch.optim.swa_utils.update_bn recomputes them for the final
weights with one pass over the 55,000 training images (train mode, no gradients); this scores the held-out images
before and after, without and with the 9 shifted views. Uses the runs' last.ckpt (the EMA weights). Run from the
project folder:
  .venv/bin/python outputs/results/v0.5.0/pico_stack_selection/tta/bn_probe.py RUN [RUN ...]"""

import sys

import torch
from torch.optim.swa_utils import update_bn

from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.run.checkpoints import load_module

torch.set_num_threads(1)


def shifted(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Each image moved by (dx, dy) pixels, the border filled with the background (the normalized 0)."""
    out = torch.full_like(images, images.amin().item())
    h, w = images.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


SQUARE1 = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


def score(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> str:
    net.eval()
    with torch.no_grad():
        one = (net(images).argmax(1) == labels).float().mean()
        nine = (sum(net(shifted(images, dx, dy)).softmax(1) for dx, dy in SQUARE1).argmax(1) == labels).float().mean()
    return f"{100 * one:.2f}% (9 views {100 * nine:.2f}%)"


for run in sys.argv[1:]:
    module = load_module(f"outputs/results/v0.5.0/pico_stack_selection/{run}/checkpoints/last.ckpt")
    net = module.net.net if hasattr(module.net, "shift") else module.net  # the network inside ShiftAveraged
    data = MNISTDataModule(val_size=5000, seed=int(run.rsplit("_s", 1)[1]), batch_size=64)
    data.setup("fit")
    images, labels = torch.cat([b[0] for b in data.val_dataloader()]), torch.cat([b[1] for b in data.val_dataloader()])
    before = score(net, images, labels)
    update_bn(((x,) for x, _ in data.train_dataloader()), net)
    print(f"{run}: as trained {before}; statistics recomputed {score(net, images, labels)}", flush=True)
