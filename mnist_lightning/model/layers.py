"""The building blocks of the networks: a cheaper CPU dropout, convolution blocks, crops, poolings, a fixed
classifier and an attention. Plain torch.nn modules (no Lightning here); model/nets.py assembles them."""

import torch
from torch import Tensor, nn

from mnist_lightning.base.errors import UserError
from mnist_lightning.base.value_ranges import dropout_error

_MASK_LEVELS = 2**15  # the CPU dropout mask compares 15 random bits per element


def check_dropout(dropout: float) -> float:
    """Refuse a dropout probability outside [0, 1) with one clear line, and one that the CPU dropout's steps of
    1/32768 round to 1 (every activation dropped: a division by zero)."""
    if message := dropout_error(dropout):
        raise UserError(message)
    if round(dropout * _MASK_LEVELS) >= _MASK_LEVELS:
        raise UserError(f"model.dropout={dropout} rounds to 1 in the CPU dropout's steps of 1/{_MASK_LEVELS}: it would "
                        f"drop every activation; give a smaller one")  # fmt: skip
    return dropout


class Dropout(nn.Dropout):
    """nn.Dropout with a cheaper mask on the CPU; elsewhere (GPU, eval, p=0) exactly nn.Dropout.

    On the CPU torch draws one 32-bit random number per element for the mask, which cost a sixth of
    the reference net's training step on 2 cores. Here each 64-bit draw gives four elements 15 bits
    each, so p is rounded to a multiple of 1/32768 (0.05 -> 0.04999) and the kept values are scaled by
    the exact inverse of the rounded keep rate. Same layer name in the layer table as nn.Dropout.
    """

    def forward(self, x: Tensor) -> Tensor:
        # The mask is laid out like x: in one of the two dense layouts; a sliced or expanded view gets torch's own
        dense = x.is_contiguous() or (x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last))
        if not self.training or self.p == 0 or x.device.type != "cpu" or not dense:
            return super().forward(x)
        dropped_levels = round(self.p * _MASK_LEVELS)
        draws = torch.empty((x.numel() + 3) // 4, dtype=torch.int64).random_()  # 63 random bits each
        # As 16-bit words, masked to 15 bits (random_ leaves the int64 sign bit 0); laid out like x
        # (contiguous or channels_last), so the comparison below needs no copy.
        bits = draws.view(torch.int16)[: x.numel()].as_strided(x.shape, x.stride()).bitwise_and(_MASK_LEVELS - 1)
        scale = _MASK_LEVELS / (_MASK_LEVELS - dropped_levels)
        return torch.where(bits >= dropped_levels, x * scale, 0.0)


def conv_block(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    dropout: float = 0.0,
    separable: bool = False,
    stride: int = 1,
) -> nn.Sequential:
    """Conv2d (no padding, `stride`) -> ReLU -> BatchNorm2d, then Dropout when `dropout` > 0.

    `separable`: the k x k convolution is depthwise (one k x k filter per input channel) followed by a 1x1
    pointwise one, fewer weights for the same widths (MobileNet's trick: k*k*C + C*C' against k*k*C*C', 5.8 times
    fewer for 16 channels in and out at k=3).
    """
    if separable and kernel_size > 1 and in_channels > 1:
        convs = [
            nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, groups=in_channels),
            nn.Conv2d(in_channels, out_channels, 1),
        ]
    else:
        convs = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride)]
    layers: list[nn.Module] = [*convs, nn.ReLU(), nn.BatchNorm2d(out_channels)]
    if dropout > 0:
        layers.append(Dropout(dropout))
    return nn.Sequential(*layers)


class CenterCrop(nn.Module):
    """Cuts `border` pixels off each side of a (B, C, H, W) batch: a slice, no copy. (torchvision's CenterCrop
    computes its offsets in Python from the traced shape and fails torch.onnx.export.)"""

    def __init__(self, border: int) -> None:
        super().__init__()
        self.border = border

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, self.border : -self.border, self.border : -self.border]


class GeMPooling(nn.Module):
    """Generalized-mean global pooling, (mean of x^p)^(1/p) over the map, with p learned (one parameter; Radenovic
    et al., 2018): p = 1 is the average, a large p nears the maximum. Inputs are clamped at `eps` (ReLU outputs are
    0 or more, and x^p needs x > 0)."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.p, self.eps = nn.Parameter(torch.tensor(float(p))), eps

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C)."""
        p = self.p.clamp(min=1.0)  # below 1 it would no longer lean towards the maximum, and 1 / p blows up near 0
        return x.clamp(min=self.eps).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


class FixedClassifier(nn.Module):
    """Class scores from features through a projection that is not trained (Hoffer et al., ICLR 2018, "Fix your
    classifier"): logits = scale * features @ P.T + bias, with P's rows orthonormal. Only the scale (the softmax's
    temperature, which a fixed P cannot learn) and the biases are parameters; the layer before adapts to P instead.
    P comes from a generator seeded with 0 whatever the run's seed, so it is the same rule in every run and
    checkpoint (kept as a buffer, so checkpoints and exports carry it)."""

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        if in_features < num_classes:
            raise UserError(f"a fixed classifier needs at least {num_classes} features, got {in_features}")
        gaussian = torch.randn(in_features, num_classes, generator=torch.Generator().manual_seed(0))
        self.register_buffer("projection", torch.linalg.qr(gaussian).Q.T.contiguous())  # (classes, features)
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: Tensor) -> Tensor:
        """(B, in_features) -> (B, num_classes) logits."""
        return self.scale * (x @ self.projection.T) + self.bias


class SimAM(nn.Module):
    """Parameter-free attention (Yang et al., ICML 2021): each activation is weighed by a sigmoid of how far it stands
    from its channel's mean over the map, in units of the channel's variance, so distinctive pixels count more. Five
    lines, so written here rather than taken from a package that would bring more than it."""

    def __init__(self, eps: float = 1e-4) -> None:
        super().__init__()
        self.eps = eps  # the paper's lambda: a flat channel (variance 0) is weighed sigmoid(0.5), not divided by 0

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> the same shape."""
        squared = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
        variance = squared.sum(dim=(2, 3), keepdim=True) / max(x.shape[2] * x.shape[3] - 1, 1)
        return x * torch.sigmoid(squared / (4 * (variance + self.eps)) + 0.5)


class SeparableBlock(nn.Module):
    """Depthwise 3x3 (no bias) -> pointwise 1x1 (no bias) -> BatchNorm -> activation (ReLU unless given); or, given
    `shared`, the same two convolutions as that block with a BatchNorm of its own."""

    def __init__(
        self,
        in_channels: int = 0,
        out_channels: int = 0,
        padding: int = 0,
        shared: "SeparableBlock | None" = None,
        affine: bool = True,
        activation: nn.Module | None = None,
        groups: int = 1,
        norm: bool = True,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        if shared is None:  # without a BatchNorm to shift it, the pointwise conv needs its bias
            self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=padding, groups=in_channels, bias=False)
            self.pointwise = nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=not norm)
        else:  # the same nn.Conv2d objects: parameters() yields each weight once
            self.depthwise, self.pointwise = shared.depthwise, shared.pointwise
        if shared is not None and dilation > 1:  # a dilated 3x3 of its own holding the same weight Parameter
            channels = shared.depthwise.in_channels
            self.depthwise = nn.Conv2d(
                channels, channels, 3, padding=dilation, dilation=dilation, groups=channels, bias=False
            )
            self.depthwise.weight = shared.depthwise.weight
        # Grouped 1x1s mix channels only within a group; the shuffle deals each group's outputs across the groups so
        # the next block's groups see all of them (ShuffleNet).
        groups = self.pointwise.groups
        self.shuffle = nn.ChannelShuffle(groups) if groups > 1 else None
        self.norm = nn.BatchNorm2d(self.pointwise.out_channels, affine=affine) if norm else nn.Identity()
        self.activation = activation if activation is not None else nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.pointwise(self.depthwise(x))
        if self.shuffle is not None:
            x = self.shuffle(x)
        return self.activation(self.norm(x))
