"""python -m mnist_lightning.export ckpt_path=<ckpt> format=onnx: the network for inference, checked against PyTorch.

The exported graph takes (N, 1, 28, 28) float pixels in [0, 1] (MNIST's normalization is inside it), any N, and
returns the 10 logits. After writing, the file is run on all 10,000 test images and compared with PyTorch.
"""

import contextlib
import importlib.util
import io
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import hydra
import numpy as np
import torch
import torchvision
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from mnist_lightning.checkpoints import load_module
from mnist_lightning.data import MNIST_MEAN, MNIST_STD, default_data_dir, ensure_mnist
from mnist_lightning.errors import UserError, check_group_choices, exit_on_user_error
from mnist_lightning.locations import CONF_DIR

FORMATS = ("onnx", "pt2")  # pt2: a torch.export ExportedProgram, for PyTorch runtimes without Lightning


class PixelsToLogits(nn.Module):
    """The trained network with MNIST's normalization in front: (N, 1, 28, 28) pixels in [0, 1] -> (N, 10) logits."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.to(memory_format=torch.contiguous_format).eval()  # NCHW: what every runtime expects

    def forward(self, pixels: Tensor) -> Tensor:
        return self.net((pixels - MNIST_MEAN) / MNIST_STD)


def mnist_test_pixels(data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 test images as (10000, 1, 28, 28) float32 pixels in [0, 1], and their labels."""
    data_dir = data_dir or default_data_dir()
    ensure_mnist(data_dir, download=False)
    split = torchvision.datasets.MNIST(data_dir, train=False, download=False)
    return (split.data.unsqueeze(1).float() / 255).numpy(), split.targets.numpy()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Hold back what the exporter and the quantizer narrate (passes, shape inference): the checks speak for them."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def export_onnx(model: PixelsToLogits, path: Path) -> None:
    """torch.onnx's exporter (torch.export underneath) with a dynamic batch dimension."""
    batch = torch.export.Dim("batch", min=1)
    with quiet():
        torch.onnx.export(
            model,
            (torch.rand(2, 1, 28, 28),),
            str(path),
            input_names=["pixels"],
            output_names=["logits"],
            dynamic_shapes={"pixels": {0: batch}},
            dynamo=True,
            external_data=False,  # one self-contained file: the weights are a few kilobytes
            verbose=False,
        )


def strip_debug_metadata(path: Path) -> None:
    """Drop the exporter's per-node notes (Python stack traces with this machine's paths, FX names): most of
    the file's bytes, and nothing a runtime reads."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, str(path))


def onnx_logits(path: Path, pixels: np.ndarray) -> np.ndarray:
    """Logits from onnxruntime's CPU provider, in batches of 1,000 images."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate(
        [session.run(["logits"], {"pixels": pixels[i : i + 1000]})[0] for i in range(0, len(pixels), 1000)]
    )


def quantize_int8(model_path: Path, int8_path: Path, calibration: np.ndarray) -> None:
    """onnxruntime's static int8 quantization (QDQ, per channel), calibrated on training-set-like pixels."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter({"pixels": calibration[i : i + 100]} for i in range(0, len(calibration), 100))

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    prepared = int8_path.with_suffix(".prep.onnx")
    try:
        with quiet():
            quant_pre_process(str(model_path), str(prepared))
            quantize_static(str(prepared), str(int8_path), Batches(), quant_format=QuantFormat.QDQ, per_channel=True)
    finally:
        prepared.unlink(missing_ok=True)


def check_parity(name: str, logits: np.ndarray, reference: np.ndarray, labels: np.ndarray, atol: float) -> str:
    """One line on `logits` against PyTorch's: same digits, largest difference, accuracy; raises when they differ."""
    same = int((logits.argmax(1) == reference.argmax(1)).sum())
    diff = float(np.abs(logits - reference).max())
    accuracy = 100 * float((logits.argmax(1) == labels).mean())
    line = f"{name}: same digit as PyTorch on {same:,}/{len(labels):,} test images, max |logit diff| {diff:.1e}"
    if same != len(labels) or diff > atol:
        raise RuntimeError(f"parity check failed: {line} (allowed {atol:g})")
    return f"{line}, accuracy {accuracy:.2f}%"


def export(cfg: DictConfig) -> Path:
    """Write the exported model, check it on the test set, print what was checked; return its path."""
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise UserError("give the checkpoint to export: ckpt_path=<run>/checkpoints/last.ckpt")
    if cfg.format not in FORMATS:
        raise UserError(f"format must be one of {', '.join(FORMATS)}, got {cfg.format!r}")
    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(name) is None]
    if cfg.format == "onnx" and missing:
        raise UserError(f'format=onnx needs {", ".join(missing)}: pip install "mnist-lightning[export]"')
    model = PixelsToLogits(load_module(cfg.ckpt_path, trust=cfg.trust_checkpoint).net)
    path = Path(cfg.output or Path(cfg.ckpt_path).with_suffix(f".{cfg.format}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels, labels = mnist_test_pixels()
    with torch.no_grad():
        reference = model(torch.from_numpy(pixels)).numpy()
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
        with torch.no_grad():
            logits = torch.export.load(path).module()(torch.from_numpy(pixels)).numpy()
    try:
        print(check_parity(f"{path} ({path.stat().st_size / 1024:.1f} KiB)", logits, reference, labels, cfg.atol))
    except RuntimeError:
        path.unlink()  # a file that does not give PyTorch's answers is not left where it could be shipped
        raise
    if cfg.format == "onnx" and cfg.int8:
        int8_path = path.with_name(f"{path.stem}.int8.onnx")
        train = torchvision.datasets.MNIST(default_data_dir(), train=True, download=False).data[:1000]
        quantize_int8(path, int8_path, (train.unsqueeze(1).float() / 255).numpy())
        int8_logits = onnx_logits(int8_path, pixels)
        same = int((int8_logits.argmax(1) == reference.argmax(1)).sum())
        accuracy = 100 * float((int8_logits.argmax(1) == labels).mean())
        size = int8_path.stat().st_size / 1024
        print(f"{int8_path} ({size:.1f} KiB, int8): accuracy {accuracy:.2f}%, same digit as PyTorch on {same:,}/10,000")
    return path


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="export")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    try:
        export(cfg)
    except RuntimeError as error:
        if "parity check failed" not in str(error):
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    check_group_choices(sys.argv[1:])
    main()
