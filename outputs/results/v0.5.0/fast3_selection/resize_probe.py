"""One-off probe (item 4, 2026-11-29, sixth session): progressive resizing (fast.ai's trick) on lean_k4. The first LOW
epochs train on the images downscaled to SIZE x SIZE (bilinear with antialiasing, once for the whole set), the last
HIGH epochs on the full 28 x 28; the network ends in global average pooling, so it takes either size. At 20 x 20 a
training step costs about a third of a full one, so LOW=1.5 HIGH=1.5 costs about what 2 full epochs cost.
A bare loop as tune_probe.py (experiment=fast's recipe, OneCycle over all the steps); trained on the 55,000 images of
data.val_size=5000, scored at 28 x 28 on the 5,000 held out (never the test set). Prints one line.
  SEED=1 LOW=1.5 HIGH=1.5 SIZE=20 .venv/bin/python outputs/results/v0.5.0/fast3_selection/resize_probe.py"""
import os, time, torch, torch.nn.functional as F
from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.model.nets import CompactNet
E = lambda k, d: type(d)(os.environ.get(k, d))  # noqa: E731
seed, low, high, size = E("SEED", 1), E("LOW", 1.5), E("HIGH", 1.5), E("SIZE", 20)
torch.set_num_threads(1)
torch.manual_seed(seed)
dm = MNISTDataModule(val_size=5000, batch_size=256); dm.prepare_data(); dm.setup("fit")
(x, y), (vx, vy) = dm.train_set, dm.val_set
net = CompactNet(block1=[16], block2=[16, 16, 32, 32], transition=0, downsample="stride", halving_kernel=4)
net = net.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(net.parameters(), lr=0.003, fused=True)
bs = 256; steps_per_epoch = len(y) // bs
low_steps, total = int(low * steps_per_epoch), int((low + high) * steps_per_epoch)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.02, total_steps=total, pct_start=0.25, div_factor=25, final_div_factor=1000)
t0 = time.perf_counter()
small = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False) if low_steps else None
sets = {"small": small.contiguous(memory_format=torch.channels_last) if low_steps else None,
        "full": x.contiguous(memory_format=torch.channels_last)}
step = 0; net.train()
while step < total:
    order = torch.randperm(len(y))
    for i in range(steps_per_epoch):
        if step >= total: break
        images = sets["small"] if step < low_steps else sets["full"]
        idx = order[i * bs:(i + 1) * bs]
        loss = F.cross_entropy(net(images[idx]), y[idx], label_smoothing=0.1)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
        step += 1
secs = time.perf_counter() - t0
net.eval()
with torch.no_grad():
    acc = sum((net(vx[i:i+1000]).argmax(1) == vy[i:i+1000]).sum().item() for i in range(0, 5000, 1000)) / 5000
print(f"low={low} high={high} size={size} seed={seed}: held-out {100*acc:.2f}%  {secs:.1f} s", flush=True)
