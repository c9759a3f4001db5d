"""One-off feasibility probe (item 4, 2026-11-29, fifth session): selective backprop (Jiang et al. 2019, "Accelerating
deep learning by focusing on the biggest losers") on fast's recipe in a bare loop: from epoch FROM_EPOCH on, score each
batch of 256 in eval mode without gradients and train only on its FRACTION of highest losses. OneCycle to 0.02,
label smoothing 0.1, fused Adam, channels_last, as experiment=fast; trained on the 55,000 images of data.val_size=5000
and scored on the 5,000 held out (never the test set). NET: fast or lean_k4. Prints one line; nothing was chosen from it.
Run from the project folder, two at once with 1 thread each (their seconds compare within a pair only):
  .venv/bin/python outputs/results/v0.5.0/fast3_selection/selective_probe.py NET FRACTION FROM_EPOCH SEED [EPOCHS] [THREADS]
Output of the two pairs (NET=fast, so commit 1be4654's network code), nothing else running: selective_probe.txt."""
import sys, time, torch, torch.nn.functional as F
from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.model.nets import CompactNet
netname, frac, start, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
epochs = float(sys.argv[5]) if len(sys.argv) > 5 else 3
torch.set_num_threads(int(sys.argv[6]) if len(sys.argv) > 6 else 1)
torch.manual_seed(seed)
dm = MNISTDataModule(val_size=5000, batch_size=256); dm.prepare_data(); dm.setup("fit")
(x, y), (vx, vy) = dm.train_set, dm.val_set
kw = dict(block1=[16], block2=[16, 16, 32, 32])
kw |= dict(transition=16) if netname == "fast" else dict(transition=0, downsample="stride", halving_kernel=4)
net = CompactNet(**kw).to(memory_format=torch.channels_last)
opt = torch.optim.Adam(net.parameters(), lr=0.003, fused=True)
bs = 256; steps_per_epoch = len(y) // bs; total = int(epochs * steps_per_epoch)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.02, total_steps=total, pct_start=0.25, div_factor=25, final_div_factor=1000)
x = x.contiguous(memory_format=torch.channels_last)
step = 0; trained = 0; t0 = time.perf_counter()
while step < total:
    epoch = step // steps_per_epoch
    order = torch.randperm(len(y))
    for i in range(steps_per_epoch):
        if step >= total: break
        idx = order[i * bs:(i + 1) * bs]; xb, yb = x[idx], y[idx]
        if frac < 1 and epoch >= start:
            with torch.no_grad():
                net.eval(); losses = F.cross_entropy(net(xb), yb, reduction="none"); net.train()
            keep = losses.topk(int(frac * bs)).indices
            xb, yb = xb[keep], yb[keep]
        net.train()
        loss = F.cross_entropy(net(xb), yb, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
        step += 1; trained += len(yb)
secs = time.perf_counter() - t0
net.eval()
with torch.no_grad():
    acc = sum((net(vx[i:i+1000]).argmax(1) == vy[i:i+1000]).sum().item() for i in range(0, 5000, 1000)) / 5000
print(f"{netname} frac={frac} from={start} seed={seed} epochs={epochs}: held-out {100*acc:.2f}%  {secs:.1f} s  trained {trained}")
