"""export: an ONNX (or ExportedProgram) file that gives PyTorch's answers, checked on every test image."""

import io
import shutil

import numpy as np
import pytest
import torch
from conftest import assert_clear_error, run_here
from omegaconf import OmegaConf
from PIL import Image

from mnist_lightning.base.errors import UserError
from mnist_lightning.export import export
from mnist_lightning.inference.onnx import PixelsToLogits, check_parity, mnist_test_pixels, torch_logits
from mnist_lightning.inference.server import answer, load_classifier
from mnist_lightning.run.checkpoints import load_module

onnxruntime = pytest.importorskip("onnxruntime", reason="pip install -e '.[export]'")


@pytest.fixture(scope="module")
def checkpoint(trained_sweep):
    return trained_sweep / "0" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def onnx_export(checkpoint, tmp_path_factory):
    """The export command's ONNX files of the trained checkpoint (10-15 s here: made once), and its output."""
    folder = tmp_path_factory.mktemp("onnx")
    result = run_here(
        "mnist_lightning.export", f"ckpt_path={checkpoint}", f"output={folder / 'model.onnx'}", cwd=folder
    )
    return folder / "model.onnx", result


def test_onnx_export_takes_pixels_any_batch_size_and_matches_pytorch(checkpoint, onnx_export, tmp_path):
    onnx_file, result = onnx_export
    assert result.returncode == 0, result.stderr
    assert "same digit as PyTorch on 10,000/10,000 test images" in result.stdout
    assert onnx_file.with_name("model.int8.onnx").is_file() and "int8): accuracy" in result.stdout
    assert b"mnist_lightning/" not in onnx_file.read_bytes()  # no stack traces naming this machine's paths
    # Raw pixels in [0, 1] go in (the normalization is inside the graph), for batches of any size.
    pixels, labels = mnist_test_pixels()
    model = PixelsToLogits(load_module(checkpoint).net)
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    for batch in (1, 7, 300):
        logits = session.run(["logits"], {"pixels": pixels[:batch]})[0]
        with torch.no_grad():
            expected = model(torch.from_numpy(pixels[:batch])).numpy()
        assert logits.shape == (batch, 10) and np.abs(logits - expected).max() < 1e-4
    accuracy = 100 * (torch_logits(model, pixels).argmax(1) == labels).mean()
    assert f"PyTorch: accuracy {accuracy:.2f}%" in result.stdout and accuracy > 90
    # serve takes the .onnx file too: through predict's preprocessing, the same answers as the checkpoint.
    from_onnx, from_ckpt = load_classifier(str(onnx_file)), load_classifier(str(checkpoint))
    for image in pixels[:20]:
        png = io.BytesIO()
        Image.fromarray((image[0] * 255).astype(np.uint8)).save(png, format="PNG")
        onnx_answer, ckpt_answer = answer(from_onnx, png.getvalue()), answer(from_ckpt, png.getvalue())
        assert onnx_answer["digit"] == ckpt_answer["digit"] and onnx_answer["seen"] == ckpt_answer["seen"]
        assert np.abs(np.subtract(onnx_answer["probabilities"], ckpt_answer["probabilities"])).max() < 1e-3


def test_a_file_that_fails_the_parity_check_is_an_error_and_is_not_left_behind(
    checkpoint, onnx_export, tmp_path, monkeypatch
):
    # The ONNX export itself takes 10-15 s here: the export step copies the real export of this checkpoint instead,
    # and the real parity check and clean-up run on it. No float32 file passes atol=1e-12.
    monkeypatch.setattr("mnist_lightning.export.export_onnx", lambda model, path: shutil.copy(onnx_export[0], path))
    args = [f"ckpt_path={checkpoint}", "output=model.onnx", "int8=false", "atol=1e-12"]
    result = run_here("mnist_lightning.export", *args, cwd=tmp_path)
    assert result.returncode == 1 and "error: parity check failed" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "model.onnx").exists()


def test_pt2_export_is_an_exported_program_with_a_dynamic_batch(checkpoint, tmp_path):
    args = [f"ckpt_path={checkpoint}", "format=pt2", f"output={tmp_path / 'm.pt2'}"]
    result = run_here("mnist_lightning.export", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    program = torch.export.load(tmp_path / "m.pt2").module()
    assert program(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_parity_check_fails_on_a_different_digit_or_a_large_difference():
    reference = np.eye(10, dtype=np.float32)[[1, 2, 3]]
    labels = np.array([1, 2, 3])
    assert "accuracy 100.00%" in check_parity("m", reference + 5e-5, reference, labels, atol=1e-4)
    with pytest.raises(RuntimeError, match="parity check failed"):
        check_parity("m", reference + 2e-4, reference, labels, atol=1e-4)
    swapped = reference[[1, 0, 2]]
    with pytest.raises(RuntimeError, match="same digit as PyTorch on 1/3"):
        check_parity("m", swapped, reference, labels, atol=10)


def test_export_errors_are_one_clear_line(tmp_path):
    # The command line once (the one-line wrapper); the other refusals in-process, where they are raised.
    assert_clear_error(run_here("mnist_lightning.export", cwd=tmp_path), "give the checkpoint to export")
    (tmp_path / "README.md").write_text("not a checkpoint")
    # output=<a folder> and a negative atol were found only after the export and its checks (30 s): a traceback
    # (IsADirectoryError), and "parity check failed ... (allowed -1)"
    cases = [("missing.ckpt", "onnx", {}, "missing.ckpt does not exist"), (str(tmp_path / "README.md"), "onnx", {},
             "not a checkpoint"), ("x.ckpt", "tflite", {}, "format must be one of onnx, pt2"),
             ("x.ckpt", "onnx", {"output": str(tmp_path)}, f"output={tmp_path} is a folder: give the file to write"),
             ("x.ckpt", "onnx", {"atol": -1}, "atol must be a number of 0 or more"),
             # an ONNX file named .pt2 (serve then read it as a torch program), a pt2 named .onnx (a protobuf error)
             ("x.ckpt", "onnx", {"output": "m.pt2"}, r"output=m.pt2 must end in .onnx for format=onnx: e.g. output=m"),
             ("x.ckpt", "pt2", {"output": "m.onnx"}, r"output=m.onnx must end in .pt2 for format=pt2"),
             # written over the checkpoint it was exported from, before
             ("x.ckpt", "onnx", {"output": "x.ckpt"}, r"output=x.ckpt must end in .onnx")]  # fmt: skip
    for ckpt_path, fmt, options, pattern in cases:
        cfg = OmegaConf.create({"ckpt_path": ckpt_path, "format": fmt, "output": None, "int8": False,
                                "atol": 1e-4, "trust_checkpoint": False} | options)  # fmt: skip
        with pytest.raises(UserError, match=pattern):
            export(cfg)


def export_and_compare(net: torch.nn.Module, path) -> np.ndarray:
    """Export `net` (eval mode, pixels in) to ONNX at `path`, check its logits match torch's on 5 random images, and
    return those images."""
    from mnist_lightning.inference.onnx import export_onnx, onnx_logits

    model = PixelsToLogits(net.eval())
    export_onnx(model, path)
    pixels = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(pixels)).numpy()
    assert np.abs(onnx_logits(path, pixels) - expected).max() < 1e-4
    return pixels


def test_a_net_that_crops_its_input_exports_and_takes_28_pixel_images(tmp_path):
    from mnist_lightning.model.nets import CompactNet

    export_and_compare(CompactNet(block1=[8], transition=8, block2=[8, 8], crop=2), tmp_path / "cropped.onnx")


def test_a_net_with_grouped_pointwise_convolutions_and_channel_shuffles_exports(tmp_path):
    from mnist_lightning.model.nets import StackedSeparableNet

    net = StackedSeparableNet(widths=[8, 8], shared_repeats=1, pointwise_groups=2)
    export_and_compare(net, tmp_path / "grouped.onnx")


def test_a_net_with_test_time_shifts_exports_its_nine_views(tmp_path):
    from mnist_lightning.inference.onnx import onnx_logits, quantize_int8
    from mnist_lightning.model.nets import ShiftAveraged, StackedSeparableNet

    net = ShiftAveraged(StackedSeparableNet(widths=[8, 8], same_padding=True))
    pixels = export_and_compare(net, tmp_path / "shifted.onnx")
    # export also writes an int8 file: onnxruntime's quantizer must be able to read the graph's shapes.
    quantize_int8(tmp_path / "shifted.onnx", tmp_path / "shifted.int8.onnx", pixels)
    int8 = onnx_logits(tmp_path / "shifted.int8.onnx", pixels)
    # Its outputs are still the log of a mean probability: they exponentiate to a distribution.
    assert int8.shape == (5, 10) and np.allclose(np.exp(int8).sum(axis=1), 1.0, atol=0.05)
