"""The pico6 runs' final weights scored on the 10,000 test images without their test-time augmentation (the network
inside ShiftAveraged alone): what the nine views add. Reports, chooses nothing.
Run from the project folder: .venv/bin/python outputs/results/v0.5.0/pico6/without_tta.py"""

import torch

from mnist_lightning.data.mnist import default_data_dir, load_normalized
from mnist_lightning.run.checkpoints import load_module

torch.set_num_threads(1)
images, labels = load_normalized(default_data_dir(), train=False)
for seed in (1, 2, 3):
    net = load_module(f"outputs/results/v0.5.0/pico6/seed{seed}/checkpoints/last.ckpt").net.eval()
    with torch.no_grad():
        one = (net.net(images).argmax(1) == labels).float().mean().item()
        nine = (net(images).argmax(1) == labels).float().mean().item()
    print(f"seed {seed}: one view {100 * one:.2f}%, nine views {100 * nine:.2f}%")
