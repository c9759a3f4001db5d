"""python -m mnist_lightning.export ckpt_path=<ckpt> format=onnx: the network for inference, checked against PyTorch.

The exported graph takes (N, 1, 28, 28) float pixels in [0, 1] (MNIST's normalization is inside it), any N, and
returns the 10 logits. After writing, the file is run on all 10,000 test images and compared with PyTorch.
"""

import sys

from mnist_lightning.base.command_line import answer_early

if __name__ == "__main__":  # mistakes, --help and --cfg job are answered before torch and Lightning load (8-10 s)
    answer_early("export", sys.argv[1:])

import importlib.util
from pathlib import Path

import torch
from omegaconf import DictConfig

from mnist_lightning.base.command import command
from mnist_lightning.base.errors import UserError, require
from mnist_lightning.data.mnist import mnist_split
from mnist_lightning.inference.onnx import (
    PixelsToLogits,
    check_parity,
    export_onnx,
    mnist_test_pixels,
    onnx_logits,
    quantize_int8,
    strip_debug_metadata,
    torch_logits,
)
from mnist_lightning.model.expansion import folded
from mnist_lightning.run.checkpoints import load_module

FORMATS = ("onnx", "pt2")  # pt2: a torch.export ExportedProgram, for PyTorch runtimes without Lightning


def export(cfg: DictConfig) -> Path:
    """Write the exported model, check it on the test set, print what was checked; return its path."""
    require(cfg, "ckpt_path", "give the checkpoint to export: ckpt_path=<run>/checkpoints/last.ckpt")
    if cfg.format not in FORMATS:
        raise UserError(f"format must be one of {', '.join(FORMATS)}, got {cfg.format!r}")
    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(name) is None]
    if cfg.format == "onnx" and missing:
        raise UserError(f'format=onnx needs {", ".join(missing)}: pip install "mnist-lightning[export]"')
    if not isinstance(cfg.atol, float | int) or isinstance(cfg.atol, bool) or cfg.atol < 0:
        raise UserError(f"atol must be a number of 0 or more (the largest logit difference allowed), got {cfg.atol!r}")
    path = Path(cfg.output or Path(cfg.ckpt_path).with_suffix(f".{cfg.format}"))
    if path.is_dir():  # found now, not after the export and its checks
        raise UserError(
            f"output={path} is a folder: give the file to write, e.g. output={path / f'model.{cfg.format}'}"
        )
    if path.suffix != f".{cfg.format}":  # serve and readers take a file by its ending; .ckpt: the checkpoint itself
        fitting = path.with_suffix(f".{cfg.format}")
        raise UserError(f"output={path} must end in .{cfg.format} for format={cfg.format}: e.g. output={fitting}")
    # An expanded network ships as the weights its factors make (model/expansion.py): the same outputs, fewer numbers
    model = PixelsToLogits(folded(load_module(cfg.ckpt_path, trust=cfg.trust_checkpoint).net))
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels, labels = mnist_test_pixels()
    reference = torch_logits(model, pixels)
    print(f"PyTorch: accuracy {100 * float((reference.argmax(1) == labels).mean()):.2f}% on the 10,000 test images")
    if cfg.format == "onnx":
        export_onnx(model, path)
        strip_debug_metadata(path)
        logits = onnx_logits(path, pixels)
    else:
        program = torch.export.export(
            model, (torch.rand(2, 1, 28, 28),), dynamic_shapes=({0: torch.export.Dim("batch")},)
        )
        torch.export.save(program, path)
        logits = torch_logits(torch.export.load(path).module(), pixels)
    try:
        print(check_parity(f"{path} ({path.stat().st_size / 1024:.1f} KiB)", logits, reference, labels, cfg.atol))
    except RuntimeError:
        path.unlink()  # a file that does not give PyTorch's answers is not left where it could be shipped
        raise
    if cfg.format == "onnx" and cfg.int8:
        int8_path = path.with_name(f"{path.stem}.int8.onnx")
        train = mnist_split(None, train=True)[0][:1000]
        quantize_int8(path, int8_path, (train.unsqueeze(1).float() / 255).numpy())
        int8_logits = onnx_logits(int8_path, pixels)
        same = int((int8_logits.argmax(1) == reference.argmax(1)).sum())
        accuracy = 100 * float((int8_logits.argmax(1) == labels).mean())
        size = int8_path.stat().st_size / 1024
        print(f"{int8_path} ({size:.1f} KiB, int8): accuracy {accuracy:.2f}%, same digit as PyTorch on {same:,}/10,000")
    return path


@command("export")
def main(cfg: DictConfig) -> None:
    try:
        export(cfg)
    except RuntimeError as error:
        if "parity check failed" not in str(error):
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()  # the command line was checked at the top
