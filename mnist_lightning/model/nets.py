"""The networks: plain torch.nn modules (no Lightning here), built from the blocks of model/layers.py."""

from collections.abc import Sequence
from functools import partial

import torch
from torch import Tensor, nn

from mnist_lightning.base.errors import UserError
from mnist_lightning.data.augment import BLACK
from mnist_lightning.model.layers import (
    CenterCrop,
    Dropout,
    FixedClassifier,
    GeMPooling,
    SeparableBlock,
    SimAM,
    check_dropout,
    conv_block,
)


class ReferenceNet(nn.Module):
    """The seed's 17,216-parameter CNN: two conv blocks with a MaxPool + 1x1 transition, GAP, one Linear.

    Dropout follows every BatchNorm except before the MaxPool, after the 1x1 channel-reducing
    convolutions, and before the output layer (the seed's rules).
    """

    def __init__(self, dropout: float = 0.05, num_classes: int = 10) -> None:
        super().__init__()
        check_dropout(dropout)
        self.features = nn.Sequential(
            # block 1: (B, 1, 28, 28) -> (B, 24, 22, 22)
            conv_block(1, 16, dropout=dropout),
            conv_block(16, 20, dropout=dropout),
            conv_block(20, 24),
            # transition: (B, 24, 22, 22) -> (B, 10, 11, 11)
            nn.MaxPool2d(2),
            conv_block(24, 10, kernel_size=1),
            # block 2: (B, 10, 11, 11) -> (B, 16, 5, 5)
            conv_block(10, 16, dropout=dropout),
            conv_block(16, 20, dropout=dropout),
            conv_block(20, 24, dropout=dropout),
            conv_block(24, 16, kernel_size=1),
        )
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, 28, 28) normalized images -> (B, num_classes) logits."""
        x = self.features(x)  # (B, 16, 5, 5)
        x = x.mean(dim=(2, 3))  # global average pooling -> (B, 16)
        return self.classifier(x)


class CompactNet(nn.Module):
    """The reference net's shape with chosen widths: 3x3 blocks, MaxPool + 1x1 transition, more 3x3s, GAP, Linear.

    `block1` and `block2` are the output channels of their 3x3 convolutions (no padding, so each takes
    2 pixels off the side), `transition` those of the 1x1 after the map is halved. Two convolutions before the
    halving (instead of the reference's three) keep the costly full-resolution part short. Dropout, when
    > 0, follows every 3x3 block except the last of `block1` (the one before the halving). `separable` makes every
    3x3 convolution after the first depthwise-separable (see conv_block): wider layers for the same parameters.
    `crop` cuts that many pixels off each side of the image first (MNIST's digits sit in a centred 20 x 20 box; a
    24 x 24 centre holds 99.8% of the training set's ink): every layer's map shrinks, and so does the compute, with
    the same parameters. The crop is part of the network, so evaluate, predict, ONNX and the page still feed 28 x 28
    images.

    `downsample="stride"` halves the map with the last 3x3 convolution of `block1` itself (stride 2) instead of a
    MaxPool after it: with the default 3 x 3 kernel, the same weights and map size, but that convolution and its
    ReLU, BatchNorm and backward pass work on a quarter of the pixels, and there is no MaxPool to run. For
    model=fast_v2 (one conv in `block1`) the full-resolution layer's elementwise work was about half of a CPU training
    step (docs/speed.md). `transition=0` leaves out the 1x1 block after the halving (0 channels: no block, as timm's
    `num_classes=0` drops the head). `halving_kernel` is that strided convolution's size: 4 makes each output see a
    4 x 4 patch, as a 3x3 conv and a 2x2 MaxPool together do, where a 3x3 of stride 2 sees 3 x 3 patches that overlap
    by one pixel. model=fast is model=fast_v2 with `downsample=stride`, `halving_kernel=4` and `transition=0`.
    """

    def __init__(
        self,
        block1: Sequence[int] = (8, 16),
        transition: int = 8,
        block2: Sequence[int] = (16, 16, 16),
        dropout: float = 0.0,
        separable: bool = False,
        crop: int = 0,
        downsample: str = "maxpool",
        halving_kernel: int = 3,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        check_dropout(dropout)
        if not block1 or not block2 or min(*block1, *block2) < 1 or transition < 0:
            raise UserError("model.net widths must be positive channel counts, with at least one conv per block")
        if crop < 0:
            raise UserError(f"model.net.crop is the pixels cut off each side, 0 or more, got {crop}")
        if downsample not in ("maxpool", "stride"):
            raise UserError(f"model.net.downsample must be 'maxpool' or 'stride', got {downsample!r}")
        if halving_kernel < 2:
            raise UserError(f"model.net.halving_kernel must be 2 or more, got {halving_kernel}")
        if halving_kernel != 3 and downsample != "stride":
            raise UserError(
                "model.net.halving_kernel is the strided convolution's size: set model.net.downsample=stride"
            )
        size = 28 - 2 * crop
        # the map the halving step takes: the strided last conv's input, or the MaxPool's input (the last conv's output)
        before_halving = size - 2 * len(block1) + (2 if downsample == "stride" else 0)
        halved = (before_halving - halving_kernel) // 2 + 1 if downsample == "stride" else before_halving // 2
        if before_halving < halving_kernel or halved - 2 * len(block2) < 1:
            kernel = f", halving_kernel {halving_kernel}" if downsample == "stride" else ""
            raise UserError(f"model.net has too many 3x3 convolutions for a {size}x{size} image (crop {crop}{kernel})")
        # No parameters, so the state_dict keys stay those of the uncropped net; None (not nn.Identity) keeps the
        # uncropped net's layer table as it was.
        self.crop = CenterCrop(crop) if crop else None
        layers: list[nn.Module] = []
        channels = 1
        # (B, 1, size, size) -> (B, block1[-1], before_halving, before_halving) before the MaxPool, or
        # (B, block1[-1], halved, halved) when the last conv is strided
        for i, width in enumerate(block1):
            last = i == len(block1) - 1
            halving = last and downsample == "stride"  # the conv itself halves the map
            layers.append(
                conv_block(
                    channels,
                    width,
                    kernel_size=halving_kernel if halving else 3,
                    dropout=0.0 if last else dropout,
                    separable=separable,
                    stride=2 if halving else 1,
                )
            )
            channels = width
        if downsample == "maxpool":
            layers.append(nn.MaxPool2d(2))  # (B, block1[-1], halved, halved): 13 x 13 from 26 x 26 uncropped
        if transition:
            layers.append(conv_block(channels, transition, kernel_size=1))  # mix channels on the halved map
            channels = transition
        for width in block2:
            layers.append(conv_block(channels, width, dropout=dropout, separable=separable))
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, 28, 28) normalized images -> (B, num_classes) logits."""
        if self.crop is not None:
            x = self.crop(x)  # (B, 1, 28 - 2 * crop, ...)
        x = self.features(x)  # (B, block2[-1], H, W)
        x = x.mean(dim=(2, 3))  # global average pooling -> (B, block2[-1])
        return self.classifier(x)


class PicoNet(nn.Module):
    """Under 700 parameters: a 3x3 stem, depthwise-separable blocks, one or two MaxPools, and no Linear layer.

    Every weight counts at this size, so unlike CompactNet: Conv -> BatchNorm -> ReLU with no bias before a
    BatchNorm (it would cancel it), no bias on the depthwise convolutions (the 1x1 after them absorbs it), and
    the last 1x1 convolution gives the class scores themselves, averaged over the image (no classifier).
    """

    def __init__(
        self,
        stem: int = 6,
        block1: int = 12,
        block2: int = 10,
        second_pool: bool = False,
        dropout: float = 0.0,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        check_dropout(dropout)
        if min(stem, block1, block2) < 1:
            raise UserError("model.net widths must be positive channel counts")

        def separable(in_channels: int, out_channels: int) -> list[nn.Module]:
            return [
                nn.Conv2d(in_channels, in_channels, 3, groups=in_channels, bias=False),
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
            ]

        layers: list[nn.Module] = [
            nn.Conv2d(1, stem, 3, bias=False), nn.BatchNorm2d(stem), nn.ReLU(),  # (B, stem, 26, 26)
            *separable(stem, block1),  # (B, block1, 24, 24)
            nn.MaxPool2d(2),  # (B, block1, 12, 12)
            *separable(block1, block2),  # (B, block2, 10, 10)
        ]  # fmt: skip
        if second_pool:  # (B, block2, 5, 5): receptive field 20, not 14
            layers.append(nn.MaxPool2d(2))
        if dropout > 0:
            layers.append(Dropout(dropout))
        layers += [  # (B, num_classes, 8, 8), or 3 x 3 after a second pool: a score per class and place
            nn.Conv2d(block2, block2, 3, groups=block2, bias=False),
            nn.Conv2d(block2, num_classes, 1),
        ]
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, 28, 28) normalized images -> (B, num_classes) logits."""
        return self.features(x).mean(dim=(2, 3))  # global average pooling of the class scores


ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "leaky_relu": nn.LeakyReLU}


class StackedSeparableNet(nn.Module):
    """Under 700 parameters, depth before width: a 3x3 stem, a MaxPool, then a stack of depthwise-separable 3x3
    blocks on the 13 x 13 map, global average pooling and one Linear layer.

    PicoNet (above) spent its weights on few layers at full resolution and underfit (98.3% training accuracy). Here
    the MaxPool comes right after the stem, so each of the blocks after it is cheap in compute, and the stack is
    deep (receptive field 4 + 4 per block). `shared_repeats` applies the last block that many more times with the
    same convolution weights (each time with its own BatchNorm): depth that costs 2 x width parameters a repeat,
    counted once like any parameter. `residual` adds each block's input (its centre, the valid 3x3 being 2 pixels
    smaller) to its output where the widths match. `same_padding` pads every 3x3, so the whole stack works on the
    13 x 13 map (more compute, the same parameters). `pool_after` moves the MaxPool after that many blocks, which then
    work on the stem's 26 x 26 map: four times their compute, the same parameters. No bias before a BatchNorm and none
    on the depthwise convolutions. `repeat_affine=False` gives the repeats' BatchNorms no scale and shift of their
    own (normalization only): each repeat then costs no parameters, and the 2 x width a repeat saves can widen the net;
    a list gives one such choice per repeat (depth at no parameter cost on top of repeats that keep theirs).
    `stem_padding` pads the stem's 3x3 too, so its map is 28 x 28 and the blocks after the MaxPool start from 14 x 14
    instead of 13 x 13. `activation` is the blocks' and the stem's nonlinearity: "relu", "silu" or "leaky_relu"
    (slope `leaky_slope`, torch's 0.01 by default; it acts only there). `pointwise_groups` splits every 1x1
    convolution into that many groups (1/groups of its weights), each followed by a channel shuffle: width for fewer
    parameters.
    `batch_norm=False` drops every BatchNorm and gives the stem and the 1x1 convolutions biases instead (as the public
    997-parameter network): a shared repeat then costs nothing, and `repeat_affine` has nothing to act on.
    `repeat_dilations` (with `same_padding`) gives each shared
    repeat's depthwise 3x3 a dilation, one per repeat: the same nine weights read pixels that far apart, so the repeats
    see a wider context at no parameter cost (a dilated repeat widens the receptive field by 4 x its dilation; its
    throwaway initial weight still takes a draw from the seeded generator). `pooling` is how the last map becomes one
    vector: "mean" (global average pooling), or "gem" (generalized mean, GeMPooling below, with ReLU only: one learned
    exponent, so the average can lean towards the strongest responses). `simam` weighs every block's output by SimAM
    (below): attention at no parameter cost, a nonlinearity that weighs each pixel by how much it stands out.
    `classifier="fixed"` replaces the Linear layer's width x classes weights by a fixed projection (FixedClassifier
    below: one learned scale and the biases), so those weights can pay for a wider stem or blocks instead.
    """

    def __init__(
        self,
        stem: int = 6,
        widths: Sequence[int] = (8, 10, 10),
        shared_repeats: int = 0,
        residual: bool = False,
        same_padding: bool = False,
        pool_after: int = 0,
        repeat_affine: bool | Sequence[bool] = True,
        pointwise_groups: int = 1,
        leaky_slope: float = 0.01,
        batch_norm: bool = True,
        stem_padding: bool = False,
        activation: str = "relu",
        repeat_dilations: Sequence[int] | None = None,
        pooling: str = "mean",
        simam: bool = False,
        classifier: str = "linear",
        dropout: float = 0.0,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        check_dropout(dropout)
        if shared_repeats < 0:
            raise UserError(f"model.net.shared_repeats must be 0 or more, got {shared_repeats}")
        dilations = list(repeat_dilations) if repeat_dilations is not None else [1] * shared_repeats
        whole = all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dilations)
        if len(dilations) != shared_repeats or not whole:
            raise UserError(
                f"model.net.repeat_dilations needs one whole dilation of 1 or more per shared repeat, got {dilations}"
                f" for shared_repeats={shared_repeats}"
            )
        affines = [repeat_affine] * shared_repeats if isinstance(repeat_affine, bool) else list(repeat_affine)
        if len(affines) != shared_repeats or not all(isinstance(a, bool) for a in affines):
            raise UserError("model.net.repeat_affine is true, false, or one of them per shared repeat")
        if max(dilations, default=1) > 1 and not same_padding:
            raise UserError("model.net.repeat_dilations needs model.net.same_padding=true (the map keeps its size)")
        for name, value in (("stem_padding", stem_padding), ("batch_norm", batch_norm), ("simam", simam)):
            if not isinstance(value, bool):  # an int would pad by that many pixels, a string "false" count as true
                raise UserError(f"model.net.{name} must be true or false, got {value!r}")
        if activation not in ACTIVATIONS:
            raise UserError(f"model.net.activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        self.residual = residual
        self.pool_after = pool_after
        widths = list(widths)
        if not widths or min([stem, *widths]) < 1 or pointwise_groups < 1:  # shared_repeats < 0: refused above
            raise UserError("model.net widths must be positive channel counts and pointwise_groups 1 or more")
        if not 0 <= pool_after <= len(widths) + shared_repeats:
            raise UserError("model.net.pool_after must be between 0 and the number of blocks")
        size = 28 if stem_padding else 26  # the stem's 3x3 on 28 x 28
        for index in range(len(widths) + shared_repeats):
            size = size // 2 if index == pool_after else size
            size = size if same_padding else size - 2
        if size < 1:
            raise UserError("model.net has more 3x3 blocks than the map allows (at most 6 after the MaxPool, unpadded)")
        act = partial(nn.LeakyReLU, leaky_slope) if activation == "leaky_relu" else ACTIVATIONS[activation]
        self.stem = nn.Sequential(
            nn.Conv2d(1, stem, 3, padding=int(stem_padding), bias=not batch_norm),
            nn.BatchNorm2d(stem) if batch_norm else nn.Identity(),
            act(),
        )
        self.pool = nn.MaxPool2d(2)
        self.blocks = nn.ModuleList()
        for in_channels, out_channels in zip([stem, *widths[:-1]], widths, strict=True):
            if in_channels % pointwise_groups or out_channels % pointwise_groups:
                raise UserError(f"model.net.pointwise_groups={pointwise_groups} must divide the stem and every width")
            block = SeparableBlock(
                in_channels, out_channels, int(same_padding), activation=act(), groups=pointwise_groups, norm=batch_norm
            )
            self.blocks.append(block)
        last = self.blocks[-1]
        # Each repeat: the same two convolutions (dilated as given), a BatchNorm of its own.
        for dilation, affine in zip(dilations, affines, strict=True):
            if last.depthwise.in_channels != last.pointwise.out_channels:
                raise UserError("model.net.shared_repeats needs a last block as wide as its input (widths [.., w, w])")
            repeat = SeparableBlock(shared=last, affine=affine, activation=act(), norm=batch_norm, dilation=dilation)
            self.blocks.append(repeat)
        if pooling not in ("mean", "gem"):
            raise UserError(f"model.net.pooling must be mean or gem, got {pooling!r}")
        if pooling == "gem" and activation != "relu":  # GeM clamps at a small positive value: negatives would be lost
            raise UserError(f"model.net.pooling=gem needs activation=relu (outputs of 0 or more), got {activation!r}")
        self.global_pool = GeMPooling() if pooling == "gem" else None
        self.attention = SimAM() if simam else nn.Identity()
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
        if classifier not in ("linear", "fixed"):
            raise UserError(f"model.net.classifier must be linear or fixed, got {classifier!r}")
        fixed = classifier == "fixed"
        self.classifier = FixedClassifier(widths[-1], num_classes) if fixed else nn.Linear(widths[-1], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, 28, 28) normalized images -> (B, num_classes) logits."""
        x = self.stem(x)  # (B, stem, 26, 26), or 28 x 28 with stem_padding
        for index, block in enumerate(self.blocks):  # a valid 3x3 takes 2 pixels off the side, a padded one none
            x = self.pool(x) if index == self.pool_after else x
            y = self.attention(block(x))
            if self.residual and y.shape[1] == x.shape[1]:  # the input's centre: what the 3x3 saw around each pixel
                x = y + (x if y.shape == x.shape else x[:, :, 1:-1, 1:-1])
            else:
                x = y
        x = self.pool(x) if self.pool_after == len(self.blocks) else x
        x = x.mean(dim=(2, 3)) if self.global_pool is None else self.global_pool(x)
        return self.classifier(self.dropout(x))


class ShiftAveraged(nn.Module):
    """Test-time augmentation around any network: in eval mode, the class probabilities averaged over the image
    shifted by up to `shift` pixels each way ((2 x shift + 1)^2 views, the border filled with the background), returned
    as their log (the logits of the average: softmax gives it back). In training, `net` alone: one view, as before.

    Part of the network, so evaluate, predict, serve and the ONNX file all score the same views, and the evaluation
    FLOPs count them (model/flops.py counts training on `net` alone). No parameters of its own.
    """

    BACKGROUND = BLACK  # a blank pixel, normalized (as augmentation fills its borders)

    def __init__(self, net: nn.Module, shift: int = 1) -> None:
        super().__init__()
        if not 0 <= shift <= 13:  # moved 14 pixels or more, a 28-pixel digit leaves the image: views of background
            raise UserError(f"model.net.shift is the pixels each view moves at most, 0 to 13, got {shift}")
        self.net, self.shift = net, shift

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, 28, 28) normalized images -> (B, num_classes) logits."""
        if self.training or self.shift == 0:
            return self.net(x)
        s, (h, w) = self.shift, x.shape[-2:]
        padded = nn.functional.pad(x, (s, s, s, s), value=self.BACKGROUND)
        views = [padded[:, :, dy : dy + h, dx : dx + w] for dy in range(2 * s + 1) for dx in range(2 * s + 1)]
        probs = self.net(torch.cat(views)).float().softmax(dim=1).unflatten(0, (len(views), x.shape[0]))
        # The log of the mean probability, kept finite. (Not logsumexp of log_softmax, the same in exact arithmetic:
        # onnxruntime's int8 quantization cannot infer that graph's shapes, and export makes an int8 file too.)
        return probs.mean(dim=0).clamp_min(torch.finfo(torch.float32).tiny).log()
