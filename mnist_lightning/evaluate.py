"""python -m mnist_lightning.evaluate ckpt_path=<path>: test a checkpoint on the 10,000 test images."""

import sys

from mnist_lightning.base.command_line import answer_early

if __name__ == "__main__":  # mistakes, --help and --cfg job are answered before torch and Lightning load (8-10 s)
    answer_early("evaluate", sys.argv[1:])

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from mnist_lightning.base.command import command
from mnist_lightning.base.errors import require
from mnist_lightning.run.callbacks import EpochProgressBar
from mnist_lightning.run.checkpoints import module_from_checkpoint, read_checkpoint
from mnist_lightning.run.checks import check_test_settings
from mnist_lightning.run.diagnostics import TestDiagnostics
from mnist_lightning.run.precision import resolve_precision


def format_confusion(confusion: torch.Tensor) -> str:
    """The confusion matrix as text: rows are true digits, columns predicted ones."""
    size = len(confusion)
    lines = ["true \\ pred " + "".join(f"{p:>6}" for p in range(size))]
    lines += [f"{t:>11} " + "".join(f"{int(n):>6}" for n in confusion[t]) for t in range(size)]
    return "\n".join(lines)


def evaluate(cfg: DictConfig) -> dict:
    """Test the checkpoint; return accuracy, per-class accuracy and the confusion matrix."""
    require(cfg, "ckpt_path", "give the checkpoint to test: ckpt_path=<run>/checkpoints/last.ckpt")
    check_test_settings(cfg)
    if cfg.torch_threads is not None:
        torch.set_num_threads(cfg.torch_threads)
    checkpoint = read_checkpoint(cfg.ckpt_path, trust=cfg.trust_checkpoint)
    # channels_last as trained: it is in the checkpoint's hparams
    module = module_from_checkpoint(checkpoint, cfg.ckpt_path, cfg.trust_checkpoint)
    # The run's own numerics, e.g. bf16-mixed (an older checkpoint without them: this config's, auto made concrete)
    precision = checkpoint.get("precision") or resolve_precision(cfg.trainer)
    diagnostics = TestDiagnostics()
    bar = EpochProgressBar()  # train's bar: drawn in a terminal only, not into a pipe or a log file
    trainer = instantiate(
        cfg.trainer, precision=precision, logger=False, callbacks=[diagnostics, bar], enable_checkpointing=False
    )
    result = trainer.test(module, datamodule=instantiate(cfg.data), verbose=False)[0]
    per_class = diagnostics.per_class_accuracy()
    if trainer.is_global_zero:  # with trainer.devices=2, each process has the whole (summed) result: one prints it
        print(f"\ncheckpoint: {cfg.ckpt_path} (precision {precision}, as trained)")
        print(f"test accuracy: {100 * result['test/acc']:.2f}% (loss {result['test/loss']:.4f})")
        print("per-class accuracy: " + ", ".join(f"{d}: {100 * a:.2f}%" for d, a in enumerate(per_class.tolist())))
        print(format_confusion(diagnostics.confusion))
    return {
        "test/acc": result["test/acc"],
        "precision": precision,
        "per_class_acc": per_class.tolist(),
        "confusion": diagnostics.confusion,
    }


@command("evaluate")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()  # the command line was checked at the top
