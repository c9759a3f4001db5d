"""A photo or scan of a digit -> an MNIST-like (1, 28, 28) tensor: paper 0, ink 1, cropped, 20 px, centred by mass.

Image operations use scipy.ndimage (morphology, connected components, centre of mass): a well-kept library
that torch's ecosystem already installs, and faster and clearer than hand-written loops. Pillow reads files
and resizes.
"""

import numpy as np
import torch
from PIL import Image, ImageOps
from scipy import ndimage
from torch import Tensor

from mnist_lightning.data.mnist import normalize

DIGIT_BOX, FRAME = 20, 28  # MNIST: each digit fitted into 20x20, centred by its centre of mass in 28x28
SPECK_AREA = 0.15  # ink blobs smaller than this share of the largest one are specks, not strokes
MAX_SIDE = 1024  # larger pictures are shrunk first: a 12-megapixel photo would take seconds per image
MIN_CONTRAST = 6  # ink must stand this many noise deviations above the paper, or the picture is blank
MIN_DIGIT = 6  # pixels: a digit's longer side must be at least this, or it is a dot, not a digit


def to_grey(image: Image.Image) -> np.ndarray:
    """(H, W) float32 in [0, 1]: the colour channel (or luminance) in which ink and paper differ most.

    The picture is turned upright (EXIF orientation, as phones store it) and shrunk to at most MAX_SIDE
    pixels. 16-bit and float images are scaled by their own maximum. Transparent pixels are paper; when the
    drawing is in the transparency itself (white strokes on a clear canvas), the opacity is the picture.
    Coloured ink on coloured paper can be faint in luminance but strong in one channel, so the channel with
    the widest spread is used.
    """
    image = ImageOps.exif_transpose(image)
    if max(image.size) > MAX_SIDE:  # the digit keeps enough pixels; the paper estimate stays fast
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # more than 8 bits: scale by the picture's own range
        values = np.asarray(image, dtype=np.float32)
        return (values - values.min()) / max(float(values.max() - values.min()), 1e-6)
    channels = []
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        channels.append(1 - np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255)  # opaque strokes: dark
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    channels += [rgb[..., 0], rgb[..., 1], rgb[..., 2], np.asarray(image.convert("L"), dtype=np.float32) / 255]
    spread = [np.percentile(c, 99) - np.percentile(c, 1) for c in channels]
    return channels[int(np.argmax(spread))]


def otsu_threshold(values: np.ndarray) -> float:
    """The level that best splits `values` into two classes (Otsu's method, on a 256-bin histogram).

    Written here because scipy has no Otsu and scikit-image would be a large dependency for one function.
    """
    counts, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mean_low = np.cumsum(counts * centres) / np.maximum(weight_low, 1)
    mean_high = ((counts * centres).sum() - np.cumsum(counts * centres)) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[int(np.argmax(between))])


def ink_map(grey: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1]: 0 where the paper is, 1 where the ink is, whatever their levels and the lighting."""
    # The border is paper. Dark ink when the paper is nearer the picture's bright end than its dark end
    # (extremes of a lightly smoothed copy: pixel noise is not ink, and a small digit has few pixels).
    paper_level = np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]))
    smooth = ndimage.gaussian_filter(grey, sigma=1)
    darkest, brightest = smooth.min(), smooth.max()
    ink = 1 - grey if brightest - paper_level < paper_level - darkest else grey
    # The paper's own level, slowly varying with the light: what a grey opening leaves when it erases every
    # stroke narrower than `size` (a third of the picture, at least 9 px, so thick pens survive), smoothed.
    size = max(9, min(ink.shape) // 3)
    paper = ndimage.gaussian_filter(ndimage.grey_opening(ink, size=(size, size)), sigma=size / 4)
    above_paper = ink - paper
    above_paper -= np.median(above_paper)  # an opening sits at the bottom of the paper's grain: lift it to its middle
    # The paper's noise (camera grain, JPEG): a robust deviation (MAD) of the paper-subtracted picture, most of
    # which is paper. A blank page of grainy paper has no ink that stands above it.
    noise = 1.4826 * float(np.median(np.abs(above_paper - np.median(above_paper))))
    ink = np.clip(above_paper, 0, None)
    if ink.max() < max(0.05, MIN_CONTRAST * noise):
        return np.zeros_like(ink)
    # Ink is what stands above the paper's noise: Otsu's split, but never below a third of the strongest ink
    # (when the digit is a speck of a large photo, Otsu alone would split the noise of the paper).
    threshold = max(otsu_threshold(ink / max(ink.max(), 1e-6)), 1 / 3) * ink.max()
    strokes = ink[ink > threshold]
    if strokes.size == 0:
        return np.zeros_like(ink)
    level = np.percentile(strokes, 90)  # the ink's own level: the body of the strokes, not their edges
    return np.clip(ink / max(level, 1e-6), 0, 1)


def keep_the_digit(ink: np.ndarray) -> np.ndarray:
    """`ink` with specks removed: blobs much smaller than the largest stroke or away from it, and faint noise."""
    mask = ink > 0.35
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        return np.zeros_like(ink)
    areas = ndimage.sum(mask, labels, index=range(1, count + 1))
    boxes = ndimage.find_objects(labels)
    main = boxes[int(np.argmax(areas))]
    # Around the largest stroke: its box widened by half its size each way (a digit's other strokes are there).
    margin = [(s.stop - s.start) // 2 for s in main]
    near = [
        all(b.start < m.stop + pad and b.stop > m.start - pad for b, m, pad in zip(box, main, margin, strict=True))
        for box in boxes
    ]
    kept = [i + 1 for i in range(count) if near[i] and areas[i] >= SPECK_AREA * areas.max()]
    keep = np.isin(labels, kept)
    near = ndimage.binary_dilation(keep, iterations=2)  # the soft edges of the kept strokes
    return np.where(near, ink, 0)


def to_mnist(image: Image.Image) -> Tensor:
    """Any image of one digit -> (1, 28, 28) tensor normalized like the training data.

    Paper 0 and ink 1 (levels estimated from the image, a slow lighting gradient removed), specks dropped,
    cropped to the digit, scaled so its longer side is 20 px, and centred by its centre of mass, as MNIST's
    digits were made. Raises ValueError when no digit is found.
    """
    digit = keep_the_digit(ink_map(to_grey(image)))
    if not digit.any():
        raise ValueError("no digit found (the image is blank or has no contrast)")
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    digit = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    if max(digit.shape) < MIN_DIGIT:
        raise ValueError(f"no digit found (only a dot of {max(digit.shape)} px)")
    scale = DIGIT_BOX / max(digit.shape)
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))  # (width, height)
    digit = np.asarray(Image.fromarray(digit.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)).clip(0, 1)

    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    centre_y, centre_x = ndimage.center_of_mass(digit)
    top = int(np.clip(round(FRAME / 2 - 0.5 - centre_y), 0, FRAME - digit.shape[0]))
    left = int(np.clip(round(FRAME / 2 - 0.5 - centre_x), 0, FRAME - digit.shape[1]))
    frame[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return normalize(torch.from_numpy(frame).unsqueeze(0))
