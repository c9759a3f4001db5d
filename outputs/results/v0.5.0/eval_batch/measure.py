"""Logits and time of one pass over the 10,000 test images at eval batch 1,000 and 500 (conf/data/mnist.yaml).

python outputs/results/v0.5.0/eval_batch/measure.py <checkpoint>
"""

import os
import sys
import time

import torch

from mnist_lightning.base.locations import BUNDLED_DATA_DIR
from mnist_lightning.data.mnist import ensure_mnist, load_normalized
from mnist_lightning.run.checkpoints import load_module

ensure_mnist(BUNDLED_DATA_DIR)
images, _ = load_normalized(BUNDLED_DATA_DIR, train=False)
net = load_module(sys.argv[1]).eval().net
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
logits = {}
with torch.no_grad():
    for batch in (1000, 500, 1000, 500):
        start = time.perf_counter()
        logits[batch] = torch.cat([net(b) for b in images.split(batch)])
        print(f"batch {batch}: {time.perf_counter() - start:.2f} s")
print("largest |difference| of the logits:", (logits[1000] - logits[500]).abs().max().item())
print("bit-identical:", torch.equal(logits[1000], logits[500]))
