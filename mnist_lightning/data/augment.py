"""Batch augmentation on tensors: a small random rotation and translation of every image, on its device."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from mnist_lightning.base.errors import UserError
from mnist_lightning.data.mnist import normalize

BLACK = normalize(torch.tensor(0.0)).item()  # a black pixel after normalization


class RandomAffine:
    """Rotates each image by up to `degrees` and shifts it by up to `translate` of its width and height.

    One `affine_grid` + `grid_sample` for the whole batch, where the batch lives (GPU or CPU), drawing
    from the `generator` it is given, so a seed fixes every transform. Pixels that come in from outside
    the image get `background`: the normalized value of a black MNIST pixel, not the 0 (grey) of padding.
    Labels are not touched: the loader passes only the images.
    """

    def __init__(self, degrees: float = 10.0, translate: float = 0.1, background: float = BLACK) -> None:
        if not 0 <= degrees <= 180:
            raise UserError(f"data.augment.degrees must be in [0, 180], got {degrees}")
        if not 0 <= translate < 1:
            raise UserError(f"data.augment.translate must be in [0, 1), got {translate}")
        self.degrees, self.translate, self.background = degrees, translate, background

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W), each image moved by its own random rotation and shift."""
        batch = images.shape[0]

        def uniform(*shape: int) -> Tensor:  # in [-1, 1)
            return torch.rand(*shape, generator=generator, device=images.device) * 2 - 1

        angle = uniform(batch) * math.radians(self.degrees)
        shift = uniform(batch, 2) * 2 * self.translate  # affine_grid spans [-1, 1]: a fraction t of the width is 2t
        cos, sin = angle.cos(), angle.sin()
        theta = torch.stack(
            [torch.stack([cos, -sin, shift[:, 0]], dim=1), torch.stack([sin, cos, shift[:, 1]], dim=1)], dim=1
        )  # (B, 2, 3): where each output pixel samples the input
        grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
        moved = F.grid_sample(images - self.background, grid, mode="bilinear", align_corners=False)
        return moved + self.background  # grid_sample pads with 0, which is `background` after the shift
