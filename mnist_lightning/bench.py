"""python -m mnist_lightning.bench: training images/s of the project's path vs a bare loop vs the notebook loop.

What it measures (README, "Speed"), on one network, batch size and machine, in one process:
  1. project:  `Trainer.fit` on the project's DataModule and LightningModule, built from the same config as
               `python -m mnist_lightning.train` (progress bar, TensorBoard logger, callbacks included), timed
               from the first step after the warm-up to the end of the last, so setup and validation are out;
  2. bare:     a plain PyTorch loop over the same in-memory tensors with the same network options
               (channels_last, compile, bf16): the floor for framework overhead;
  3. notebook: torchvision MNIST with per-sample ToTensor + Normalize, a DataLoader (num_workers=0) and the
               network as the seed wrote it (torch's nn.Dropout, NCHW, fp32): what users would otherwise run.
The three run interleaved, `repeats` times each after `warmup_steps`; the table shows the median images/s,
the min-max spread and the ratios project/notebook and project/bare. Then evaluation images/s on the 10,000
test images (for the project: its per-epoch validation pass). Read the ratios: these machines are shared,
so one absolute figure means little.
Writes bench.json (machine, settings, every measurement) to the run folder.
"""

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchvision
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchvision import transforms

from mnist_lightning.data import MNIST_MEAN, MNIST_STD, TRAIN_SIZE, default_data_dir, ensure_mnist, load_normalized
from mnist_lightning.errors import UserError, check_group_choices, exit_on_user_error
from mnist_lightning.locations import CONF_DIR
from mnist_lightning.provenance import provenance
from mnist_lightning.train import build_module, build_trainer

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


def project_loop(cfg: DictConfig, batch_size: int) -> tuple[float, float]:
    """Training images/s of the project's own path (Trainer + DataModule + LightningModule), and of its
    per-epoch validation pass over the 10,000 test images."""
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
    trainer.fit(module, datamodule=datamodule)
    trainer.limit_val_batches = 1.0  # now the whole validation set, timed by the clock
    trainer.validate(module, datamodule=datamodule, verbose=False)
    return cfg.steps * batch_size / clock.train_seconds, 10_000 / clock.eval_seconds


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
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=str(cfg.trainer.precision).startswith("bf16"))
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


def summarize(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench(cfg: DictConfig) -> dict:
    """Run the interleaved measurements, print the tables, return everything that was measured."""
    for batch_size in cfg.batch_sizes:  # the project's loop times steps inside one epoch
        steps_per_epoch = (TRAIN_SIZE - cfg.data.val_size) // batch_size
        if cfg.warmup_steps + cfg.steps > steps_per_epoch:
            raise UserError(
                f"warmup_steps + steps = {cfg.warmup_steps + cfg.steps} is more than the {steps_per_epoch} steps "
                f"of one epoch at batch size {batch_size}: lower steps or the batch size"
            )
    torch.set_num_threads(cfg.torch_threads or torch.get_num_threads())
    pl.seed_everything(cfg.seed)
    data_dir = Path(cfg.data.data_dir) if cfg.data.data_dir else default_data_dir()
    ensure_mnist(data_dir, download=cfg.data.download)
    device = torch.device(
        "cuda" if torch.cuda.is_available() and cfg.trainer.accelerator in ("auto", "gpu", "cuda") else "cpu"
    )
    data = {
        split: tuple(t.to(device) for t in load_normalized(data_dir, train=split == "train"))
        for split in ("train", "test")
    }
    loops = {
        "project": lambda bs: project_loop(cfg, bs),
        "bare": lambda bs: bare_loop(cfg, bs, data, device),
        "notebook": lambda bs: notebook_loop(cfg, bs, data_dir, device),
    }
    train = {bs: {name: [] for name in LOOPS} for bs in cfg.batch_sizes}
    evaluation = {name: [] for name in LOOPS}
    for repeat in range(cfg.repeats):
        for bs in cfg.batch_sizes:
            for name in LOOPS:  # interleaved, so a slow spell of the shared machine hits all three alike
                train_rate, eval_rate = loops[name](bs)
                train[bs][name].append(train_rate)
                if bs == cfg.batch_sizes[0] and repeat < cfg.eval_repeats:
                    evaluation[name].append(eval_rate)
                print(f"repeat {repeat + 1}/{cfg.repeats} batch {bs:>4} {name:>9}: {train_rate:8.0f} images/s")

    result = {"machine": provenance(), "device": str(device), "settings": bench_settings(cfg), "train": {}, "eval": {}}
    for bs, rates in train.items():
        stats = {name: summarize(rates[name]) for name in LOOPS}
        stats["ratio_project_notebook"] = stats["project"]["median"] / stats["notebook"]["median"]
        stats["ratio_project_bare"] = stats["project"]["median"] / stats["bare"]["median"]
        result["train"][bs] = {**stats, "all": rates}
    result["eval"] = {name: {**summarize(evaluation[name]), "all": evaluation[name]} for name in LOOPS}
    print(format_tables(result))
    return result


def bench_settings(cfg: DictConfig) -> dict:
    keep = ("batch_sizes", "repeats", "warmup_steps", "steps", "eval_repeats", "model", "optimizer", "trainer")
    return {
        key: OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key]
        for key in keep
    }


def format_tables(result: dict) -> str:
    m = result["machine"]
    lines = [f"\nmachine: {m['cpu']}, {m['cpu_count']} cores, GPU {m['gpu']}, torch {m['torch']}, "
             f"{m['torch_threads']} threads; device {result['device']}",
             f"{'batch':>5} {'loop':>9} {'images/s (median)':>18} {'min-max':>15}"]  # fmt: skip
    for bs, stats in result["train"].items():
        for name in LOOPS:
            s = stats[name]
            lines.append(f"{bs:>5} {name:>9} {s['median']:>18.0f} {s['min']:>7.0f}-{s['max']:<7.0f}")
        lines.append(f"{bs:>5} project/notebook {stats['ratio_project_notebook']:.2f}x, "
                     f"project/bare {stats['ratio_project_bare']:.2f}x")  # fmt: skip
    lines.append("evaluation on the 10,000 test images (images/s, median): " + ", ".join(
        f"{name} {result['eval'][name]['median']:.0f}" for name in LOOPS))  # fmt: skip
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="bench")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    result = bench(cfg)
    out = Path(cfg.paths.output_dir) / "bench.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results in {out}")


if __name__ == "__main__":
    check_group_choices(sys.argv[1:])
    main()
