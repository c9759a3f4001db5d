"""python -m mnist_lightning.bench: training images/s of the project's path vs a bare loop vs the notebook loop.

What it measures (README, "Speed"), on one network, batch size and machine, in one process:
  1. project:  `Trainer.fit` on the project's DataModule and LightningModule, built from the same config as
               `python -m mnist_lightning.train` (progress bar, TensorBoard logger, callbacks included), timed
               from the first step after the warm-up to the end of the last, so setup and validation are out;
  2. bare:     a plain PyTorch loop over the same in-memory tensors with the same network options
               (channels_last, compile, bf16): the floor for framework overhead;
  3. notebook: torchvision MNIST with per-sample ToTensor + Normalize, a DataLoader (num_workers=0) and the
               configured network written the usual way (torch's nn.Dropout, NCHW, fp32, Adam without fused):
               what users would otherwise run.
The three run interleaved, `repeats` times each after `warmup_steps`; the table shows the median images/s,
the min-max spread and the ratios project/notebook and project/bare. Then evaluation images/s on the 10,000
test images (for the project: its per-epoch validation pass, over the held-out images with data.val_size > 0).
Read the ratios: these machines are shared, so one absolute figure means little.
Writes bench.json (machine, settings, every measurement) to the run folder.
"""

import sys

from mnist_lightning.base.command_line import answer_early

if __name__ == "__main__":  # mistakes, --help and --cfg job are answered before torch and Lightning load (8-10 s)
    answer_early("bench", sys.argv[1:])

import json
import statistics
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from mnist_lightning.base.command import command
from mnist_lightning.base.errors import UserError
from mnist_lightning.base.value_ranges import positive_integer_error
from mnist_lightning.benchmarks.loops import LOOPS, bare_loop, notebook_loop, project_loop
from mnist_lightning.data.mnist import (
    TRAIN_SIZE,
    default_data_dir,
    ensure_mnist,
    load_normalized,
)
from mnist_lightning.run.precision import resolve_precision
from mnist_lightning.run.provenance import provenance


def summarize(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def check_options(cfg: DictConfig) -> None:
    """Refuse, in one line before anything runs, what bench cannot measure or would silently ignore."""
    if (cfg.get("distill") or {}).get("teacher"):  # the bare and notebook loops would train without it
        raise UserError("bench compares training loops without a distillation teacher: remove distill.teacher")
    if cfg.get("ckpt_path"):
        raise UserError("bench times fresh networks: remove ckpt_path (to test a checkpoint: mnist_lightning.evaluate)")
    if HydraConfig.initialized() and "study_name" in HydraConfig.get().sweeper:  # hparams_search=...: a search
        raise UserError("bench measures one configuration: remove hparams_search")
    sizes = cfg.batch_sizes
    if not OmegaConf.is_list(sizes) or not sizes or any(positive_integer_error("", size) for size in sizes):
        raise UserError(f"batch_sizes must be a list of positive integers, like [28,128], got {sizes}")
    for key in ("steps", "repeats", "eval_repeats"):
        if message := positive_integer_error(key, cfg[key]):
            raise UserError(message)
    if not isinstance(cfg.warmup_steps, int) or isinstance(cfg.warmup_steps, bool) or cfg.warmup_steps < 0:
        raise UserError(f"warmup_steps must be a whole number of 0 or more, got {cfg.warmup_steps!r}")


def bench(cfg: DictConfig) -> dict:
    """Run the interleaved measurements, print the tables, return everything that was measured."""
    check_options(cfg)
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
    settings = {
        key: OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key]
        for key in keep
    }
    return settings | {"precision": resolve_precision(cfg.trainer)}  # what ran: trainer.precision=auto made concrete


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


@command("bench")
def main(cfg: DictConfig) -> None:
    result = bench(cfg)
    out = Path(cfg.paths.output_dir) / "bench.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results in {out}")


if __name__ == "__main__":
    main()  # the command line was checked at the top
