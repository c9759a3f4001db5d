"""One-off probe (item 4, 2026-11-29, sixth session): fast's recipe in a bare loop (as whiten_probe.py and
selective_probe.py), with the knobs of a short schedule set from the environment, to look for a recipe at about half
fast's training time that matches fast held out. Trained on the 55,000 images of data.val_size=5000 and scored on the
5,000 held out (never the test set). Prints one line with the settings. Knobs (defaults = experiment=fast):
  NET=fast|lean_k4  EPOCHS=3  LR=0.02 (OneCycle peak)  PCT=0.25  DIV=25  FINAL=1000  BS=256  LS=0.1 (label smoothing)
  B2=0.999 (Adam beta2)  WD=0 (AdamW weight decay)  BLOCK2=16,16,32,32  B1=16 (block1 width)  MOM=0.1 (BatchNorm)
Run from the project folder, two at once with 1 thread each (seconds compare within a pair only):
  SEED=1 NET=lean_k4 EPOCHS=2.5 .venv/bin/python outputs/results/v0.5.0/fast3_selection/tune_probe.py"""
import os, time, torch, torch.nn.functional as F
from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.model.nets import CompactNet
E = lambda k, d: type(d)(os.environ.get(k, d))  # noqa: E731
seed, netname, epochs = E("SEED", 1), E("NET", "fast"), E("EPOCHS", 3.0)
max_lr, pct, div, final, bs = E("LR", 0.02), E("PCT", 0.25), E("DIV", 25.0), E("FINAL", 1000.0), E("BS", 256)
ls, b2, wd, mom = E("LS", 0.1), E("B2", 0.999), E("WD", 0.0), E("MOM", 0.1)
block2, b1 = [int(w) for w in E("BLOCK2", "16,16,32,32").split(",")], E("B1", 16)
torch.set_num_threads(E("THREADS", 1))
torch.manual_seed(seed)
dm = MNISTDataModule(val_size=5000, batch_size=bs); dm.prepare_data(); dm.setup("fit")
(x, y), (vx, vy) = dm.train_set, dm.val_set
kw = dict(block1=[b1], block2=block2)
kw |= dict(transition=16) if netname == "fast" else dict(transition=0, downsample="stride", halving_kernel=4)
net = CompactNet(**kw)
for m in net.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.momentum = mom
params = sum(p.numel() for p in net.parameters())
net = net.to(memory_format=torch.channels_last)
opt = torch.optim.AdamW(net.parameters(), lr=0.003, betas=(0.9, b2), weight_decay=wd, fused=True)
steps_per_epoch = len(y) // bs; total = int(epochs * steps_per_epoch)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=pct, div_factor=div, final_div_factor=final)
x = x.contiguous(memory_format=torch.channels_last)
step = 0; t0 = time.perf_counter()
net.train()
while step < total:
    order = torch.randperm(len(y))
    for i in range(steps_per_epoch):
        if step >= total: break
        idx = order[i * bs:(i + 1) * bs]
        loss = F.cross_entropy(net(x[idx]), y[idx], label_smoothing=ls)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
        step += 1
secs = time.perf_counter() - t0
net.eval()
with torch.no_grad():
    acc = sum((net(vx[i:i+1000]).argmax(1) == vy[i:i+1000]).sum().item() for i in range(0, 5000, 1000)) / 5000
knobs = " ".join(f"{k}={os.environ[k]}" for k in ("NET", "EPOCHS", "LR", "PCT", "DIV", "FINAL", "BS", "LS", "B2", "WD", "BLOCK2", "B1", "MOM") if k in os.environ)
print(f"{knobs or 'fast'} seed={seed} params={params}: held-out {100*acc:.2f}%  {secs:.1f} s", flush=True)
