"""The compute a run spends, counted once from the network's shapes: recipes then compare across machines.

torch's FlopCounterMode counts the matrix products and convolutions that actually run (2 FLOPs per
multiply-add), forward and backward; normalization, activations, pooling, the optimizer step and an expanded
network's factor products (per step, not per image) are left out,
as in the usual counts of a network's cost. Counted on a copy with a batch of two images, once per run: the
cost of a network on an MNIST image does not depend on the step.
"""

import copy

import torch
from torch import nn
from torch.ops import aten
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from mnist_lightning.model.expansion import folded
from mnist_lightning.model.nets import ShiftAveraged

MNIST_IMAGE = (1, 28, 28)


def conv_backward_flop(
    grad_out_shape,
    x_shape,
    w_shape,
    bias,
    stride,
    padding,
    dilation,
    transposed,
    output_padding,
    groups,
    output_mask,
    **kwargs,
) -> int:
    """A convolution's backward: its input gradient and its weight gradient each take the forward's products.

    Written here because torch's formula (torch 2.14) counts a grouped convolution's weight gradient as if it had no
    groups: 16 times too much for a 16-channel depthwise 3x3. The forward's count takes the groups from the weight's
    shape, (out, in / groups, k, k), so it is right.
    """
    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed)
    return forward * (int(output_mask[0]) + int(output_mask[1]))


def _counter() -> FlopCounterMode:
    return FlopCounterMode(display=False, custom_mapping={aten.convolution_backward: conv_backward_flop})


def flops_per_image(net: nn.Module, backward: bool = True) -> dict[str, int]:
    """FLOPs per image: `forward` (what scoring an image costs) and `train` (forward and backward: a training step;
    with `backward=False`, for a network that is never trained, such as a distillation teacher, the forward's)."""
    # A copy, so BatchNorm's statistics and the real network stay untouched, in eval mode: dropout draws no random
    # numbers, and fork_rng restores the generators anyway: counting must not change the seeded run that follows.
    # The products are the same as in training. The first convolution's input needs no gradient, as in training.
    # Test-time augmentation (ShiftAveraged) scores several views of an image, but trains on one: training is
    # counted on the network inside it.
    # A linearly expanded network (model/expansion.py) is counted folded: its factor products are made once per step,
    # not per image (0.3% of a step of experiment=pico_expanded at batch 64), and are left out like the optimizer's.
    probe = copy.deepcopy(folded(net)).float().eval()
    trained = probe.net if isinstance(probe, ShiftAveraged) else probe
    images = torch.zeros(2, *MNIST_IMAGE)
    with torch.random.fork_rng(devices=[]):
        with _counter() as scoring:
            probe(images)
        with _counter() as forward:
            logits = trained(images)
        with _counter() as backward_pass:
            if backward:
                logits.sum().backward()
    return {
        "forward": scoring.get_total_flops() // 2,
        "train": (forward.get_total_flops() + backward_pass.get_total_flops()) // 2,
    }


def run_flops(
    per_image: dict[str, int], per_epoch: dict[str, float | None], epochs: dict[str, int], test_images: float | None
) -> dict:
    """What metrics.json records: per image, and the run's training and validation (the images of one epoch, as
    counted in the last, times the epochs trained and validated) and test pass. `fit` is training and validation.
    """

    def total(flops: int, images: float | None, times: int = 1) -> int | None:
        return int(flops * images * times) if images else None

    train = total(per_image["train"], per_epoch.get("train"), epochs["train"])
    val = total(per_image["forward"], per_epoch.get("val"), epochs["val"]) or 0
    return {
        "per_image_forward": per_image["forward"],
        "per_image_train": per_image["train"],
        "train": train,
        "val": val,
        "fit": train + val if train else None,
        "test": total(per_image["forward"], test_images),
    }
