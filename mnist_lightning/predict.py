"""python -m mnist_lightning.predict ckpt_path=<path> inputs=<file or folder>: classify image files."""

import sys
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from mnist_lightning.checkpoints import load_module
from mnist_lightning.data import MNIST_MEAN, MNIST_STD
from mnist_lightning.errors import UserError, check_group_choices, exit_on_user_error

DIGIT_BOX, FRAME = 20, 28  # MNIST: each digit fitted into 20x20, centred by its centre of mass in 28x28


def to_mnist(image: Image.Image) -> Tensor:
    """Any image -> (1, 28, 28) normalized tensor, prepared the way MNIST's digits were.

    Grey; white digit on black (a dark-on-light image is inverted, judged by its border); cropped
    to the digit, scaled so its longer side is 20 px, and placed in a 28x28 frame with its centre of
    mass at the centre.
    """
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))  # transparent -> white paper
    pixels = np.asarray(image.convert("L"), dtype=np.float32) / 255
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if np.median(border) > 0.5:
        pixels = 1 - pixels
    ink = pixels > 0.2 * pixels.max() if pixels.max() > 0 else np.zeros_like(pixels, dtype=bool)
    if not ink.any():
        raise ValueError("no digit found (the image is blank)")
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    digit = pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = DIGIT_BOX / max(digit.shape)
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))  # (width, height)
    digit = np.asarray(Image.fromarray(digit).resize(size, Image.Resampling.LANCZOS)).clip(0, 1)

    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    weights = digit / digit.sum()
    centre_y = (weights.sum(axis=1) * np.arange(digit.shape[0])).sum()
    centre_x = (weights.sum(axis=0) * np.arange(digit.shape[1])).sum()
    top = int(np.clip(round(FRAME / 2 - 0.5 - centre_y), 0, FRAME - digit.shape[0]))
    left = int(np.clip(round(FRAME / 2 - 0.5 - centre_x), 0, FRAME - digit.shape[1]))
    frame[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return (torch.from_numpy(frame).unsqueeze(0) - MNIST_MEAN) / MNIST_STD


def input_files(inputs: str | Path) -> list[Path]:
    """The file itself, or every visible file in the folder (sorted); a clear error when there is none."""
    path = Path(inputs)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UserError(f"inputs={path} does not exist: give an image file or a folder of images")
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise UserError(f"inputs={path} is a folder with no files: put PNG or JPEG images of digits there")
    return files


def predict(cfg: DictConfig) -> list[tuple[Path, int | None, float | None]]:
    """Print `<file>: <digit> (p=<probability>)` per file; unreadable files get one line and are skipped."""
    for key in ("ckpt_path", "inputs"):
        if OmegaConf.is_missing(cfg, key):
            raise UserError(
                f"give {key}=...: python -m mnist_lightning.predict ckpt_path=<ckpt> inputs=<file or folder>"
            )
    files = input_files(cfg.inputs)
    module = load_module(cfg.ckpt_path, trust=cfg.trust_checkpoint).eval()
    results: list[tuple[Path, int | None, float | None]] = []
    for file in files:
        try:
            with Image.open(file) as image:
                x = to_mnist(image)
        except (UnidentifiedImageError, OSError, ValueError) as error:
            reason = "not an image" if isinstance(error, UnidentifiedImageError) else str(error)
            print(f"{file}: skipped, {reason}", file=sys.stderr)
            results.append((file, None, None))
            continue
        with torch.no_grad():
            probabilities = module(x.unsqueeze(0)).softmax(dim=1)[0]
        digit = int(probabilities.argmax())
        print(f"{file}: {digit} (p={probabilities[digit]:.3f})")
        results.append((file, digit, float(probabilities[digit])))
    if Path(cfg.inputs).is_dir() and all(digit is None for _, digit, _ in results):
        raise UserError(f"inputs={cfg.inputs} holds no images that could be read: put PNG or JPEG digits there")
    return results


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    results = predict(cfg)
    if any(digit is None for _, digit, _ in results):
        sys.exit(1)  # the others were still classified, but say that not every file was


if __name__ == "__main__":
    check_group_choices(sys.argv[1:])
    main()
