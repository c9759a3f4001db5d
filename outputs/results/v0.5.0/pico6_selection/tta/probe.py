"""Round 23 (held out, no training, commit 4f5e2be): which test-time views help pico_dilated's saved networks.

Scores the held-out checkpoints of pico6_selection (trained with data.val_size=5000 test=false; their weights are the
moving average that validation used) on the same 5,000 held-out training images (the fixed seed-0 split), under view
sets other than the shipped 9 shifts. Never touches the test set.

From the repository root (about 4 minutes on 2 cores):

    d=outputs/results/v0.5.0/pico6_selection/tta; .venv/bin/python $d/probe.py > $d/probe.txt
"""

import itertools
import math
import sys

import torch
import torch.nn.functional as F

from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.model.nets import ShiftAveraged
from mnist_lightning.run.checkpoints import module_from_checkpoint, read_checkpoint

torch.set_num_threads(2)
ROOT = "outputs/results/v0.5.0/pico6_selection"
RUNS = sys.argv[1:] or ["p6_dil231_gem_s1", "p6_dil231_gem_s2", "p6_dilgem_simam_s1", "p6_dilgem_simam_s2"]
BLACK = ShiftAveraged.BACKGROUND


def warp(x, degrees=0.0, scale=1.0, dx=0.0, dy=0.0):
    """x rotated, scaled and moved (in pixels) about its centre, bilinear, the border the background."""
    a = math.radians(degrees)
    h, w = x.shape[-2:]
    theta = torch.tensor(
        [
            [math.cos(a) / scale, -math.sin(a) / scale, -2 * dx / w],
            [math.sin(a) / scale, math.cos(a) / scale, -2 * dy / h],
        ],
        dtype=x.dtype,
    )
    grid = F.affine_grid(theta.expand(len(x), 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x - BLACK, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + BLACK


def shifts(s):
    return [dict(dx=dx, dy=dy) for dy in range(-s, s + 1) for dx in range(-s, s + 1)]


VIEWS = {
    "one view": [{}],
    "9 shifts (shipped)": shifts(1),
    "5 shifts (cross)": [dict(dx=dx, dy=dy) for dx, dy in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]],
    "25 shifts (2 px)": shifts(2),
    "9 half-pixel shifts": [dict(dx=dx / 2, dy=dy / 2) for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
    "9 shifts x rotations -6,0,6": [dict(v, degrees=r) for v in shifts(1) for r in (-6, 0, 6)],
    "9 shifts x rotations -10,0,10": [dict(v, degrees=r) for v in shifts(1) for r in (-10, 0, 10)],
    "9 shifts x scales 0.92,1,1.08": [dict(v, scale=z) for v in shifts(1) for z in (0.92, 1.0, 1.08)],
    "9 shifts x rot -6,0,6 x scale 0.92,1,1.08": [
        dict(v, degrees=r, scale=z) for v in shifts(1) for r, z in itertools.product((-6, 0, 6), (0.92, 1.0, 1.08))
    ],
}


@torch.no_grad()
def probs(net, x, view):
    # Every view goes through grid_sample; whole-pixel moves are exact there (the one-view row checks the identity).
    return torch.cat([net(warp(b, **view)).float().softmax(1) for b in x.split(1000)])


data = MNISTDataModule(val_size=5000)
data.setup("fit")
images, labels = data.val_set
print(f"held-out images: {len(labels)} (seed-0 split of the training images)")
for run in RUNS:
    path = f"{ROOT}/{run}/checkpoints/last.ckpt"
    module = module_from_checkpoint(read_checkpoint(path), path).eval()
    net = module.net.net if isinstance(module.net, ShiftAveraged) else module.net
    cache = {}
    print(f"\n{run}  ({path})")
    for name, views in VIEWS.items():
        total = 0
        for view in views:
            key = tuple(sorted(view.items()))
            if key not in cache:
                cache[key] = probs(net, images, view)
            total = total + cache[key]
        acc = (total.argmax(1) == labels).float().mean().item()
        print(f"  {name:45s} {100 * acc:6.2f}%  ({len(views)} views)")
    shipped = module.eval()
    acc = torch.cat([shipped(b).argmax(1) for b in images.split(1000)]).eq(labels).float().mean().item()
    print(f"  {'the module as saved (ShiftAveraged)':45s} {100 * acc:6.2f}%")
