"""Round 25 probe (held out; run on the code of 075e724, see queue.sh): does training *through* the 9 test-time
views help?

pico_expanded (round 24) scores the mean of the class probabilities over 9 one-pixel shifts, but trains on one view.
Its network is capacity-bound (training accuracy about 98.8%, the same as held out), so the function that is scored
(the 9-view average) may fit better if it is itself what the loss sees. This fine-tunes round 24's held-out
checkpoints (p6_dilgem_expand4_s1, _s2: the moving-average weights at epoch 40) for one more epoch on the 55,000
training images, with Adam whose lr falls from LR to 0 on a cosine, either on one view (the control: a warm restart
alone) or on the 9-view average (the loss is the NLL of the averaged probabilities; BatchNorm sees all 9 views of the
batch). Scores the same 5,000 held-out images (the fixed seed-0 split); never touches the test set.

    d=outputs/results/v0.5.0/pico6_selection/viewtrain; .venv/bin/python $d/probe.py RUN MODE [LR EPOCHS] > ...

The 1-epoch runs (s*_one.txt, s*_views.txt) were made before the script took EPOCHS (it was 1), so their first line
does not name it.
"""

import math
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, "outputs/results/v0.5.0/pico6_selection/expand")  # expanded_nets, the class the runs were made with

from mnist_lightning.data.datamodule import MNISTDataModule  # noqa: E402
from mnist_lightning.run.checkpoints import module_from_checkpoint, read_checkpoint  # noqa: E402

torch.set_num_threads(1)
ROOT = "outputs/results/v0.5.0/pico6_selection"
RUN, MODE = sys.argv[1], sys.argv[2]  # MODE: one, views
LR = float(sys.argv[3]) if len(sys.argv) > 3 else 5e-4
EPOCHS = int(sys.argv[4]) if len(sys.argv) > 4 else 1
torch.manual_seed(1)


@torch.no_grad()
def held_out_accuracy(module, images, labels):
    module.eval()
    return torch.cat([module(b).argmax(1) for b in images.split(1000)]).eq(labels).float().mean().item()


path = f"{ROOT}/{RUN}/checkpoints/last.ckpt"
module = module_from_checkpoint(read_checkpoint(path), path, trust=True)
data = MNISTDataModule(val_size=5000, batch_size=64, seed=1)
data.setup("fit")
images, labels = data.val_set
print(f"{RUN} {MODE} lr {LR}, {EPOCHS} epochs: as saved {100 * held_out_accuracy(module, images, labels):.2f}%", flush=True)

shifted = module.net  # ShiftAveraged
optimizer = torch.optim.Adam(module.parameters(), lr=LR)
loader = data.train_dataloader()
steps = EPOCHS * len(loader)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
start = time.time()
for epoch in range(EPOCHS):
    module.train()
    if MODE == "views":
        shifted.training = False  # ShiftAveraged takes its 9-view path; the network inside stays in training mode
    correct = seen = 0
    for x, y in loader:
        out = shifted(x.contiguous(memory_format=torch.channels_last))
        loss = F.nll_loss(out, y) if MODE == "views" else F.cross_entropy(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        correct += out.argmax(1).eq(y).sum().item()
        seen += len(y)
    acc = held_out_accuracy(module, images, labels)
    print(f"  epoch {epoch + 1}: train acc {100 * correct / seen:.2f}%, held out {100 * acc:.2f}%"
          f" ({time.time() - start:.0f} s)", flush=True)
