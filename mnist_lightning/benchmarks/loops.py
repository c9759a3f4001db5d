"""The three timed training loops of bench: the project's Trainer path, a bare PyTorch loop, the notebook's loop."""

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchvision
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchvision import transforms

from mnist_lightning.data.mnist import MNIST_MEAN, MNIST_STD
from mnist_lightning.model.lit_module import MNISTLitModule
from mnist_lightning.run.build import build_module, build_trainer
from mnist_lightning.run.precision import resolve_precision

LOOPS = ("project", "bare", "notebook")


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock measures it (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepClock(pl.Callback):
    """Times training steps `warmup` .. `warmup + steps - 1` and a validation epoch inside the Trainer's loops."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.last = warmup, warmup + steps - 1
        self.start = self.train_seconds = self.eval_seconds = 0.0

    def on_train_batch_start(self, trainer: pl.Trainer, module: pl.LightningModule, batch: object, idx: int) -> None:
        if idx == self.warmup:
            sync(module.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, *args: object) -> None:
        if args[-1] == self.last:  # batch_idx
            sync(module.device)
            self.train_seconds = time.perf_counter() - self.start

    def on_validation_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        sync(module.device)
        self.eval_seconds = time.perf_counter() - self.start


@contextlib.contextmanager
def without_epoch_lines() -> Iterator[None]:
    """The module's per-epoch lines (`Epoch 1: train loss ...`) off: in bench they are the timed stretch's, a few
    hundred steps of a fresh network, and would read as results among the throughput figures."""
    lines = logging.getLogger(MNISTLitModule.__module__)
    level = lines.level
    lines.setLevel(logging.WARNING)
    try:
        yield
    finally:
        lines.setLevel(level)


def project_loop(cfg: DictConfig, batch_size: int) -> tuple[float, float]:
    """Training images/s of the project's own path (Trainer + DataModule + LightningModule), and of its
    per-epoch validation pass (over the 10,000 test images, or the held-out ones with data.val_size > 0)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        for name in ("last_checkpoint", "best_checkpoint"):  # they save after the timed steps: not timed here
            cfg.callbacks.pop(name, None)
        cfg.trainer.enable_checkpointing = False  # else Lightning adds its own and writes epoch=0-step=N-vK.ckpt
    cfg.data.batch_size = batch_size
    cfg.trainer.max_epochs = 1
    cfg.trainer.limit_train_batches = cfg.warmup_steps + cfg.steps
    cfg.trainer.limit_val_batches = 0  # validation would run after the timed steps anyway
    module, _ = build_module(cfg, verbose=False)
    clock = StepClock(cfg.warmup_steps, cfg.steps)
    datamodule = instantiate(cfg.data)
    trainer = build_trainer(cfg, [clock], datamodule.val_is_test)
    with without_epoch_lines():
        trainer.fit(module, datamodule=datamodule)
        trainer.limit_val_batches = 1.0  # now the whole validation set, timed by the clock
        trainer.validate(module, datamodule=datamodule, verbose=False)
    # The images it scored: the 10,000 test images, or the held-out ones with data.val_size > 0
    scored = float(trainer.callback_metrics["val/images"])
    return cfg.steps * batch_size / clock.train_seconds, scored / clock.eval_seconds


def timed_steps(net: nn.Module, optimizer: torch.optim.Optimizer, batches: Callable, cfg: DictConfig,
                autocast: torch.autocast, device: torch.device) -> float:  # fmt: skip
    """Seconds for `cfg.steps` training steps after `cfg.warmup_steps`; `batches()` yields (images, labels)."""
    net.train()
    for step, (images, labels) in enumerate(batches()):
        if step == cfg.warmup_steps:
            sync(device)
            start = time.perf_counter()
        images, labels = images.to(device), labels.to(device)
        with autocast:
            loss = F.cross_entropy(net(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step == cfg.warmup_steps + cfg.steps - 1:
            sync(device)
            return time.perf_counter() - start
    raise ValueError("not enough batches for warmup_steps + steps")


@torch.no_grad()
def eval_seconds(net: nn.Module, batches: Callable, device: torch.device, autocast: torch.autocast) -> float:
    """Seconds to score every batch `batches()` yields (the 10,000 test images)."""
    net.eval()
    start = time.perf_counter()
    for images, labels in batches():
        with autocast:
            (net(images.to(device)).argmax(1) == labels.to(device)).sum()
    sync(device)
    return time.perf_counter() - start


def bare_loop(cfg: DictConfig, batch_size: int, data: dict[str, tuple[Tensor, Tensor]], device: torch.device):
    """Training and test images/s of a plain loop over in-memory tensors, with the project's network options."""
    net = instantiate(cfg.model.net).to(device)
    if cfg.model.get("channels_last"):
        net = net.to(memory_format=torch.channels_last)
    if cfg.model.get("compile"):
        net.compile()
    optimizer = instantiate(cfg.optimizer)(params=net.parameters())
    bf16 = resolve_precision(cfg.trainer).startswith("bf16")  # as the project's path: trainer.precision=auto too
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    images, labels = data["train"]

    def train_batches():
        order = torch.randperm(len(labels), device=device)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield images[order[start : start + batch_size]], labels[order[start : start + batch_size]]

    def test_batches():
        test_images, test_labels = data["test"]
        for start in range(0, len(test_labels), cfg.data.eval_batch_size):
            yield (
                test_images[start : start + cfg.data.eval_batch_size],
                test_labels[start : start + cfg.data.eval_batch_size],
            )

    seconds = timed_steps(net, optimizer, train_batches, cfg, autocast, device)
    return cfg.steps * batch_size / seconds, 10_000 / eval_seconds(net, test_batches, device, autocast)


def notebook_loop(cfg: DictConfig, batch_size: int, data_dir: Path, device: torch.device):
    """Training and test images/s of the usual notebook code: per-sample transforms, DataLoader, plain network."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])
    train_set = torchvision.datasets.MNIST(data_dir, train=True, transform=transform)
    test_set = torchvision.datasets.MNIST(data_dir, train=False, transform=transform)
    net = instantiate(cfg.model.net)
    for module in net.modules():  # torch's own dropout, as the seed's code has it
        for name, child in module.named_children():
            if isinstance(child, nn.Dropout):
                setattr(module, name, nn.Dropout(child.p))
    net = net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.optimizer.lr)
    plain = torch.autocast(device.type, enabled=False)
    train_batches = lambda: iter(DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=0))  # noqa: E731
    test_batches = lambda: iter(DataLoader(test_set, batch_size=cfg.data.eval_batch_size, num_workers=0))  # noqa: E731
    seconds = timed_steps(net, optimizer, train_batches, cfg, plain, device)
    return cfg.steps * batch_size / seconds, 10_000 / eval_seconds(net, test_batches, device, plain)
