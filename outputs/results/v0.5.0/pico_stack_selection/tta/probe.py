"""Held-out probe: does averaging the class probabilities over shifted copies of each image (test-time
augmentation) raise the padded six-block net's held-out accuracy? Uses the runs' last.ckpt (the EMA weights) and
the same 5,000 held-out images as training held out (MNISTDataModule with data.val_size=5000 and the run's seed).
Their last.ckpt files are kept beside the runs (collect.sh copies them). Run from the project folder:
  .venv/bin/python outputs/results/v0.5.0/pico_stack_selection/tta/probe.py stack6_12_12_r3_res_same_s1 \
      stack6_12_12_r3_res_same_s2 stack6_12_12_r3_res_s1 stack6_12_12_r3_res_same_lr04_s1 stack6_12_12_r3_res_same_e80_s1
(probe.txt holds its output; the first four runs were probed in one call, the last one later.)"""

import sys

import torch

from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.run.checkpoints import load_module

torch.set_num_threads(1)


def shifted(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Each image moved by (dx, dy) pixels, the border filled with the background (the normalized 0)."""
    background = images.amin()
    out = torch.full_like(images, background.item())
    h, w = images.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


VIEWS = {
    "none": [(0, 0)],
    "plus1": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)],
    "square1": [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)],
    "plus2": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (2, 0), (-2, 0), (0, 2), (0, -2)],
    "square2": [(dx, dy) for dx in (-2, -1, 0, 1, 2) for dy in (-2, -1, 0, 1, 2)],
}
for run in sys.argv[1:]:
    module = load_module(f"outputs/results/v0.5.0/pico_stack_selection/{run}/checkpoints/last.ckpt").eval()
    data = MNISTDataModule(val_size=5000, seed=int(run.rsplit("_s", 1)[1]))
    data.setup("fit")
    images, labels = torch.cat([b[0] for b in data.val_dataloader()]), torch.cat([b[1] for b in data.val_dataloader()])
    with torch.no_grad():
        for name, views in VIEWS.items():
            probs = sum(module(shifted(images, dx, dy)).softmax(1) for dx, dy in views)
            print(f"{run} {name:8} {100 * (probs.argmax(1) == labels).float().mean():.2f}%")
