"""One-off feasibility probe (item 4, 2026-11-29, sixth session): airbench's whitened first layer on lean_k4 in a bare
loop. The strided 4 x 4 convolution's 16 filters are set to +-W, W the 8 leading eigenvectors of the covariance of
the training images' 4 x 4 patches (stride 2, 5,000 images), each divided by sqrt(eigenvalue + EPS), bias 0: the
first layer starts out whitening its input (Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU", 2024).
MODE: plain (the default init), frozen (whitened, not trained), init (whitened, then trained).
OneCycle to LR (0.02), label smoothing 0.1, fused Adam, channels_last, as experiment=fast at batch 256; trained on the
55,000 images of data.val_size=5000 and scored on the 5,000 held out (never the test set). Prints one line.
Run from the project folder, two at once with 1 thread each (their seconds compare within a pair only):
  .venv/bin/python outputs/results/v0.5.0/fast3_selection/whiten_probe.py MODE SEED EPOCHS [LR] [THREADS]"""
import sys, time, torch, torch.nn.functional as F
from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.model.nets import CompactNet
mode, seed, epochs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
max_lr = float(sys.argv[4]) if len(sys.argv) > 4 else 0.02
torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
EPS = 5e-4
torch.manual_seed(seed)
dm = MNISTDataModule(val_size=5000, batch_size=256); dm.prepare_data(); dm.setup("fit")
(x, y), (vx, vy) = dm.train_set, dm.val_set
net = CompactNet(block1=[16], block2=[16, 16, 32, 32], transition=0, downsample="stride", halving_kernel=4)
first = net.features[0][0]
if mode in ("frozen", "init"):
    patches = F.unfold(x[:5000].float(), kernel_size=4, stride=2).transpose(1, 2).reshape(-1, 16)  # (N * 169, 16)
    patches = patches - patches.mean(0)
    eigenvalues, eigenvectors = torch.linalg.eigh(patches.T @ patches / len(patches))  # ascending
    top = eigenvectors[:, -8:].T / (eigenvalues[-8:, None] + EPS).sqrt()  # (8, 16)
    with torch.no_grad():
        first.weight.copy_(torch.cat([top, -top]).reshape(16, 1, 4, 4))
        first.bias.zero_()
    if mode == "frozen":
        first.requires_grad_(False)
net = net.to(memory_format=torch.channels_last)
opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=0.003, fused=True)
bs = 256; steps_per_epoch = len(y) // bs; total = int(epochs * steps_per_epoch)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=0.25, div_factor=25, final_div_factor=1000)
x = x.contiguous(memory_format=torch.channels_last)
step = 0; t0 = time.perf_counter()
while step < total:
    order = torch.randperm(len(y))
    for i in range(steps_per_epoch):
        if step >= total: break
        idx = order[i * bs:(i + 1) * bs]
        net.train()
        loss = F.cross_entropy(net(x[idx]), y[idx], label_smoothing=0.1)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
        step += 1
secs = time.perf_counter() - t0
net.eval()
with torch.no_grad():
    acc = sum((net(vx[i:i+1000]).argmax(1) == vy[i:i+1000]).sum().item() for i in range(0, 5000, 1000)) / 5000
print(f"lean_k4 {mode} seed={seed} epochs={epochs} lr={max_lr}: held-out {100*acc:.2f}%  {secs:.1f} s")
