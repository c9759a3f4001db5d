"""One-off probe (item 4, 2026-11-29, sixth session): does lean_k4 learn faster per step with residual connections in
its 3x3 stack, or with BatchNorm before the ReLU (Conv-BN-ReLU, the usual order) instead of after it (the reference's
Conv-ReLU-BN)? A bare loop as tune_probe.py (experiment=fast's recipe: OneCycle to 0.02 with 25% warm-up, label
smoothing 0.1, fused Adam, channels_last, batch 256), its own copy of lean_k4's layers: a 4 x 4 stride-2 convolution to
16 channels, 3x3 convolutions to 16, 16, 32, 32 (no padding), global average pooling, one Linear layer; 19,354
parameters either way. RES=1 adds each 3x3 block's input (its centre, the map being 2 pixels smaller) to its output
where the widths match (the 16 -> 16 and 32 -> 32 blocks). ORDER=bnrelu puts the BatchNorm first. Trained on the 55,000
images of data.val_size=5000, scored on the 5,000 held out (never the test set). Prints one line.
  SEED=1 EPOCHS=2.5 RES=1 ORDER=relubn .venv/bin/python outputs/results/v0.5.0/fast3_selection/block_probe.py"""
import os, time, torch, torch.nn as nn, torch.nn.functional as F
from mnist_lightning.data.datamodule import MNISTDataModule
E = lambda k, d: type(d)(os.environ.get(k, d))  # noqa: E731
seed, epochs, res, order = E("SEED", 1), E("EPOCHS", 2.5), E("RES", 0), E("ORDER", "relubn")
torch.set_num_threads(1)
torch.manual_seed(seed)


def block(cin, cout, k, stride=1):
    conv = nn.Conv2d(cin, cout, k, stride=stride)
    act = [nn.ReLU(), nn.BatchNorm2d(cout)] if order == "relubn" else [nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(conv, *act)


class Lean(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = block(1, 16, 4, stride=2)
        self.blocks = nn.ModuleList(block(a, b, 3) for a, b in [(16, 16), (16, 16), (16, 32), (32, 32)])
        self.classifier = nn.Linear(32, 10)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            y = b(x)
            x = y + x[:, :, 1:-1, 1:-1] if res and y.shape[1] == x.shape[1] else y
        return self.classifier(x.mean(dim=(2, 3)))


dm = MNISTDataModule(val_size=5000, batch_size=256); dm.prepare_data(); dm.setup("fit")
(x, y), (vx, vy) = dm.train_set, dm.val_set
net = Lean().to(memory_format=torch.channels_last)
params = sum(p.numel() for p in net.parameters())
opt = torch.optim.Adam(net.parameters(), lr=0.003, fused=True)
bs = 256; steps_per_epoch = len(y) // bs; total = int(epochs * steps_per_epoch)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.02, total_steps=total, pct_start=0.25, div_factor=25, final_div_factor=1000)
x = x.contiguous(memory_format=torch.channels_last)
step = 0; t0 = time.perf_counter(); net.train()
while step < total:
    order_ = torch.randperm(len(y))
    for i in range(steps_per_epoch):
        if step >= total: break
        idx = order_[i * bs:(i + 1) * bs]
        loss = F.cross_entropy(net(x[idx]), y[idx], label_smoothing=0.1)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
        step += 1
secs = time.perf_counter() - t0
net.eval()
with torch.no_grad():
    acc = sum((net(vx[i:i+1000]).argmax(1) == vy[i:i+1000]).sum().item() for i in range(0, 5000, 1000)) / 5000
print(f"res={res} order={order} epochs={epochs} seed={seed} params={params}: held-out {100*acc:.2f}%  {secs:.1f} s", flush=True)
