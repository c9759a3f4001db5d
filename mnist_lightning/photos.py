"""python -m mnist_lightning.photos ckpt_path=<ckpt>: predict's accuracy on MNIST test digits made to look like
photos and scans, one named condition at a time, against the same digits as clean 28x28 images."""

import sys

from mnist_lightning.base.command_line import answer_early

if __name__ == "__main__":  # mistakes, --help and --cfg job are answered before torch and Lightning load (8-10 s)
    answer_early("photos", sys.argv[1:])

import numpy as np
import torch
from omegaconf import DictConfig
from tqdm import tqdm

from mnist_lightning.base.command import command
from mnist_lightning.base.errors import UserError, require
from mnist_lightning.benchmarks.photo_conditions import CONDITIONS, mnist_test_digits, render
from mnist_lightning.data.mnist import normalize
from mnist_lightning.inference.photo import to_mnist
from mnist_lightning.run.checkpoints import load_module


@torch.no_grad()
def accuracy(module: torch.nn.Module, images: torch.Tensor, labels: np.ndarray) -> float:
    predictions = torch.cat([module(batch).argmax(dim=1) for batch in images.split(500)])
    return float((predictions.numpy() == labels).mean())


def measure(cfg: DictConfig) -> dict[str, float]:
    """predict's accuracy per condition on `cfg.count` test digits, and on the same digits as clean tensors."""
    if not isinstance(cfg.count, int) or isinstance(cfg.count, bool) or not 1 <= cfg.count <= 10_000:
        raise UserError(f"count must be a whole number from 1 to 10000 (test digits per condition), got {cfg.count!r}")
    require(cfg, "ckpt_path", "give the checkpoint to measure: ckpt_path=<run>/checkpoints/last.ckpt")
    module = load_module(cfg.ckpt_path, trust=cfg.trust_checkpoint).eval()
    digits, labels = mnist_test_digits(cfg.count)
    clean = normalize(torch.from_numpy(digits).float() / 255).unsqueeze(1)
    results = {"clean 28x28 (no preprocessing)": accuracy(module, clean, labels)}
    # about a minute for 1,000 digits: a bar per condition, drawn on stderr in a terminal only (stdout is the table)
    for condition in tqdm(
        CONDITIONS, desc="photos", unit="condition", file=sys.stderr, disable=not sys.stderr.isatty()
    ):
        seen, read = [], np.ones(len(digits), dtype=bool)
        for i, digit in enumerate(digits):
            try:
                seen.append(to_mnist(render(digit, condition, seed=i)))
            except ValueError:  # "no digit found": counted as a wrong answer
                seen.append(torch.zeros(1, 28, 28))
                read[i] = False
        results[condition] = accuracy(module, torch.stack(seen)[read], labels[read]) * read.mean()
    return results


@command("photos")
def main(cfg: DictConfig) -> None:
    results = measure(cfg)
    clean = results["clean 28x28 (no preprocessing)"]
    print(f"{cfg.count} MNIST test digits per condition, checkpoint {cfg.ckpt_path}\n")
    print("| condition | predict accuracy % | points below clean |\n|---|---|---|")
    for condition, acc in results.items():
        print(f"| {condition} | {100 * acc:.2f} | {100 * (clean - acc):.2f} |")


if __name__ == "__main__":
    main()  # the command line was checked at the top
