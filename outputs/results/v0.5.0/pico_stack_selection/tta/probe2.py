"""Held-out probe, round 2 (2026-11-29, fourth session): do views beyond whole-pixel shifts add to the 9 shifted views
of ShiftAveraged? Rotations, scales and half-pixel shifts, each combined with the 9 views (bilinear resampling via
affine_grid; the border filled with the normalized background). Same checkpoints and held-out images as probe.py.
Run from the project folder:
  .venv/bin/python outputs/results/v0.5.0/pico_stack_selection/tta/probe2.py stack6_12_12_r3_res_same_s1 \
      stack6_12_12_r3_res_same_s2
(probe2.txt holds its output.)"""

import math
import sys

import torch
import torch.nn.functional as F

from mnist_lightning.data.augment import BLACK
from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.run.checkpoints import load_module

torch.set_num_threads(1)


def warped(images: torch.Tensor, degrees: float = 0.0, scale: float = 1.0, dx: float = 0.0, dy: float = 0.0):
    """Each image rotated by `degrees`, zoomed by `scale` and moved by (dx, dy) pixels, background-filled."""
    angle = math.radians(degrees)
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    # affine_grid maps output to input coordinates in [-1, 1]: one pixel is 2 / 28.
    theta = torch.tensor([[cos, -sin, -dx * 2 / 28], [sin, cos, -dy * 2 / 28]], dtype=images.dtype)
    grid = F.affine_grid(theta.expand(len(images), 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images - BLACK, grid, align_corners=False, padding_mode="zeros") + BLACK


SQUARE1 = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
VIEWS = {
    "square1": [dict(dx=dx, dy=dy) for dx, dy in SQUARE1],
    "square1+rot8": [dict(dx=dx, dy=dy, degrees=a) for dx, dy in SQUARE1 for a in (-8, 0, 8)],
    "square1+rot15": [dict(dx=dx, dy=dy, degrees=a) for dx, dy in SQUARE1 for a in (-15, 0, 15)],
    "square1+scale10": [dict(dx=dx, dy=dy, scale=s) for dx, dy in SQUARE1 for s in (0.9, 1.0, 1.1)],
    "half-pixel 5x5": [dict(dx=dx / 2, dy=dy / 2) for dx in range(-2, 3) for dy in range(-2, 3)],
    "square1 centre x3": [dict(dx=dx, dy=dy) for dx, dy in SQUARE1] + [dict()] * 2,
}
for run in sys.argv[1:]:
    module = load_module(f"outputs/results/v0.5.0/pico_stack_selection/{run}/checkpoints/last.ckpt").eval()
    data = MNISTDataModule(val_size=5000, seed=int(run.rsplit("_s", 1)[1]))
    data.setup("fit")
    images, labels = torch.cat([b[0] for b in data.val_dataloader()]), torch.cat([b[1] for b in data.val_dataloader()])
    with torch.no_grad():
        for name, views in VIEWS.items():
            probs = sum(module(warped(images, **view)).softmax(1) for view in views)
            print(f"{run} {name:18} {100 * (probs.argmax(1) == labels).float().mean():.2f}%", flush=True)
