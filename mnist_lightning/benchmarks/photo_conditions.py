"""MNIST test digits made to look like photos and scans: the conditions the photos command measures predict on."""

import io
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from mnist_lightning.data.mnist import mnist_split

SCALE = 4  # digits are drawn at 112x112: a phone photo has far more pixels than MNIST's 28


def on_paper(alpha: np.ndarray, paper: np.ndarray | float, ink: float) -> np.ndarray:
    """Ink of level `ink` laid with coverage `alpha` (H, W) on paper of level `paper` (a number or (H, W))."""
    return paper + (ink - paper) * alpha


def noisy(grey: np.ndarray, rng: np.random.Generator, sigma: float = 0.02) -> Image.Image:
    """A greyscale image with a camera's mild noise, as an 8-bit PIL image."""
    return Image.fromarray((np.clip(grey + rng.normal(0, sigma, grey.shape), 0, 1) * 255).astype(np.uint8))


def gradient(alpha: np.ndarray, rng: np.random.Generator) -> Image.Image:
    h, w = alpha.shape
    light = np.linspace(0.45, 0.95, w)[None, :] * np.ones((h, 1))  # a lamp on one side of the sheet
    return noisy(on_paper(alpha, light, 0.12), rng)


def jpeg(alpha: np.ndarray, rng: np.random.Generator) -> Image.Image:
    buffer = io.BytesIO()
    noisy(on_paper(alpha, 0.9, 0.12), rng).save(buffer, format="JPEG", quality=30)
    return Image.open(io.BytesIO(buffer.getvalue()))


def specks(alpha: np.ndarray, rng: np.random.Generator) -> Image.Image:
    dust = np.zeros_like(alpha)
    for _ in range(12):  # dust and pen dots, 1-3 px at MNIST's scale
        y, x = rng.integers(0, alpha.shape[0]), rng.integers(0, alpha.shape[1])
        r = rng.integers(2, 6)
        dust[max(0, y - r) : y + r, max(0, x - r) : x + r] = 1
    return noisy(on_paper(np.maximum(alpha, dust), 0.9, 0.12), rng)


def thick_pen(alpha: np.ndarray, rng: np.random.Generator) -> Image.Image:
    return noisy(on_paper(ndimage.grey_dilation(alpha, size=(7, 7)), 0.9, 0.1), rng)


def small_in_photo(alpha: np.ndarray, rng: np.random.Generator) -> Image.Image:
    small = np.asarray(Image.fromarray(alpha).resize((48, 48), Image.Resampling.BILINEAR))
    page = np.zeros((300, 400), dtype=np.float32)
    y, x = rng.integers(10, 300 - 58), rng.integers(10, 400 - 58)
    page[y : y + 48, x : x + 48] = small
    return noisy(on_paper(page, 0.85, 0.15), rng)


def coloured(alpha: np.ndarray, rng: np.random.Generator) -> Image.Image:
    paper, ink = np.array([0.98, 0.92, 0.55]), np.array([0.15, 0.2, 0.65])  # blue ink on yellow paper
    rgb = paper + (ink - paper) * alpha[..., None]
    rgb = np.clip(rgb + rng.normal(0, 0.02, rgb.shape), 0, 1)
    return Image.fromarray((rgb * 255).astype(np.uint8), mode="RGB")


# Each condition: the alpha (ink coverage, (112, 112) in [0, 1]) of one digit -> the picture a user would take.
CONDITIONS: dict[str, Callable[[np.ndarray, np.random.Generator], Image.Image]] = {
    "white paper": lambda a, rng: noisy(on_paper(a, 0.95, 0.1), rng),
    "grey paper": lambda a, rng: noisy(on_paper(a, 0.8, 0.15), rng),
    "low contrast": lambda a, rng: noisy(on_paper(a, 0.7, 0.5), rng),  # grey digit on lighter grey
    "lighting gradient": gradient,
    "jpeg quality 30": jpeg,
    "specks": specks,
    "thick pen": thick_pen,
    "small digit in a large photo": small_in_photo,
    "coloured paper and ink": coloured,
    "light on dark (chalkboard)": lambda a, rng: noisy(on_paper(a, 0.15, 0.9), rng),
}


def mnist_test_digits(count: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` MNIST test digits from `offset`: (N, 28, 28) uint8 images (white on black) and (N,) labels."""
    images, labels = mnist_split(None, train=False)
    return images[offset : offset + count].numpy(), labels[offset : offset + count].numpy()


def render(digit: np.ndarray, condition: str, seed: int) -> Image.Image:
    """One MNIST digit (28, 28) uint8 as a picture under `condition`, drawn from `seed`."""
    alpha = np.asarray(Image.fromarray(digit).resize((28 * SCALE,) * 2, Image.Resampling.BICUBIC), np.float32) / 255
    return CONDITIONS[condition](np.clip(alpha, 0, 1), np.random.default_rng(seed))
