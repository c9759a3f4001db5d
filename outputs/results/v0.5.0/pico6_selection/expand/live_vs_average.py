"""Round 25 (held out, no training, commit fd8b7bf): the moving average against the live network at the end.

Each held-out checkpoint holds the averaged weights (`state_dict`: what validation and the test use) and the live
ones (`current_model_state`, kept by Lightning's EMAWeightAveraging). This scores both on the 5,000 held-out images
(the fixed seed-0 split), never the test set. Where they are within noise of each other at the end, an average of
the folded weights (rather than of the factors) has little to add there either.

    d=outputs/results/v0.5.0/pico6_selection/expand
    .venv/bin/python $d/live_vs_average.py p6_dilgem_expand4_s1 p6_dilgem_expand4_s2 ... > $d/live_vs_average.txt
"""

import sys

import torch

sys.path.insert(0, "outputs/results/v0.5.0/pico6_selection/expand")  # expanded_nets, the probe's class

from mnist_lightning.data.datamodule import MNISTDataModule  # noqa: E402
from mnist_lightning.run.checkpoints import module_from_checkpoint, read_checkpoint  # noqa: E402

torch.set_num_threads(1)
data = MNISTDataModule(val_size=5000)
data.setup("fit")
images, labels = data.val_set


@torch.no_grad()
def accuracy(module):
    module.eval()
    return torch.cat([module(b).argmax(1) for b in images.split(1000)]).eq(labels).float().mean().item()


for run in sys.argv[1:]:
    path = f"outputs/results/v0.5.0/pico6_selection/{run}/checkpoints/last.ckpt"
    checkpoint = read_checkpoint(path, trust=True)  # our own files; the probe's class is not one of the safe targets
    module = module_from_checkpoint(checkpoint, path, trust=True)
    averaged = accuracy(module)
    module.load_state_dict(checkpoint["current_model_state"])
    print(f"{run}: averaged {100 * averaged:.2f}%  live {100 * accuracy(module):.2f}%", flush=True)
