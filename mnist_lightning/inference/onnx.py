"""The network for inference outside PyTorch: ONNX (and int8) files, their logits, the parity check."""

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from mnist_lightning.data.mnist import mnist_split, normalize


class PixelsToLogits(nn.Module):
    """The trained network with MNIST's normalization in front: (N, 1, 28, 28) pixels in [0, 1] -> (N, 10) logits."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.to(memory_format=torch.contiguous_format).eval()  # NCHW: what every runtime expects

    def forward(self, pixels: Tensor) -> Tensor:
        return self.net(normalize(pixels))


def mnist_test_pixels(data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 test images as (10000, 1, 28, 28) float32 pixels in [0, 1], and their labels."""
    images, labels = mnist_split(data_dir, train=False)
    return (images.unsqueeze(1).float() / 255).numpy(), labels.numpy()


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


def torch_logits(model, pixels: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """`model`'s logits for `pixels`, in batches of 500: one batch of 10,000 takes the slow path of large
    allocations (see conf/data/mnist.yaml's eval_batch_size), and gives the same numbers."""
    with torch.no_grad():
        return torch.cat(
            [model(torch.from_numpy(batch)) for batch in np.split(pixels, range(batch_size, len(pixels), batch_size))]
        ).numpy()


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
