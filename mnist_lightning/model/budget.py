"""The layer table printed at start (layer, output shape, parameters, receptive field) and the parameter budget."""

from dataclasses import dataclass

import torch
from torch import nn

from mnist_lightning.base.errors import UserError, first_line
from mnist_lightning.model.expansion import folded
from mnist_lightning.model.nets import ShiftAveraged

NUM_CLASSES = 10  # MNIST's digits: what every network's output scores


@dataclass
class LayerRow:
    """One leaf layer: `Conv2d-1`, its output shape without the batch dimension, its own parameters, and the
    receptive field: the side in input pixels of the square one output value depends on."""

    name: str
    shape: tuple[int, ...]
    params: int
    receptive_field: int = 0


def count_params(net: nn.Module) -> int:
    """Parameters of `net` as it computes, frozen ones too (they are weights the network holds, and the table's
    column counts them): a linearly expanded network (model/expansion.py) counts the weights its factors make, not
    the factors it trains."""
    return sum(p.numel() for p in folded(net).parameters())


def _pair(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else value[0]  # square kernels and strides only


def layer_table(net: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> list[LayerRow]:
    """Run one zero image through `net` and record every leaf layer in call order, like torchsummary.

    The receptive field follows the layers in call order (right for a chain of layers like ours): a k x k
    convolution or pooling widens it by (k - 1) x jump, where jump, the input-pixel distance between
    neighbouring outputs, is multiplied by each stride. Layers after global average pooling (no spatial
    dimensions left) see the whole image.
    """
    net = folded(net)  # an expanded network's layers as they compute, each with its one weight
    if isinstance(net, ShiftAveraged):  # its views run the same layers again: the table is the network's inside
        net = net.net
    rows: list[LayerRow] = []
    field, jump = 1, 1
    counted: set[int] = set()

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal field, jump
        if not isinstance(output, torch.Tensor):  # a layer of a user's network that gives several values: no row
            return
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            dilation = _pair(getattr(module, "dilation", 1))
            field += (_pair(module.kernel_size) - 1) * dilation * jump
            jump *= _pair(module.stride)
        seen = field if output.dim() == 4 else input_shape[-1]  # (B, C, H, W), or past global average pooling
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) and output.shape[-2:] == (1, 1):
            seen = input_shape[-1]  # a global pooling that keeps a 1 x 1 map: its row (a side branch leaves the rest)
        # A parameter counts in the first layer that uses it: a layer applied again with the same weights (shared
        # repeats, StackedSeparableNet) shows 0, so the column adds up to the total.
        params = sum(p.numel() for p in module.parameters(recurse=False) if id(p) not in counted)
        counted.update(id(p) for p in module.parameters(recurse=False))
        rows.append(LayerRow(f"{type(module).__name__}-{len(rows) + 1}", tuple(output.shape[1:]), params, seen))

    leaves = [m for m in net.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(record) for m in leaves]
    was_training = net.training
    try:
        net.eval()  # BatchNorm in eval mode: a single image is fine and running stats stay untouched
        with torch.no_grad():
            try:  # a user's own network (--config-dir) meets its first image here
                scores = net(torch.zeros(1, *input_shape))
            except Exception as error:  # noqa: BLE001 - whatever the network raises: one line, not its stack
                reason = first_line(error)
                shape = "x".join(map(str, input_shape))
                raise UserError(f"model.net ({type(net).__name__}) cannot score a {shape} image: {reason}") from error
        if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (1, NUM_CLASSES):  # else an IndexError
            given = (
                f"an output of shape {list(scores.shape[1:])}"
                if isinstance(scores, torch.Tensor)
                else type(scores).__name__
            )
            raise UserError(f"model.net ({type(net).__name__}) gives {given} for an image: it must give a tensor of "
                            f"{NUM_CLASSES} class scores")  # fmt: skip
    finally:
        net.train(was_training)
        for hook in hooks:
            hook.remove()
    return rows


def format_layer_table(rows: list[LayerRow], total: int) -> str:
    """The table as text, ending with the total parameter count; RF is the receptive field in input pixels."""
    lines = [f"{'Layer (type)':>20} {'Output Shape':>20} {'Param #':>10} {'RF':>4}", "=" * 57]
    for row in rows:
        lines.append(f"{row.name:>20} {str(list(row.shape)):>20} {row.params:>10,} {row.receptive_field:>4}")
    lines += ["=" * 57, f"Total params: {total:,}"]
    return "\n".join(lines)


class OverBudget(UserError):
    """The configured network has more parameters than `model.max_params`."""

    def __init__(self, net_name: str, params: int, max_params: int) -> None:
        super().__init__(
            f"{net_name} has {params:,} parameters, over the budget model.max_params={max_params:,}: "
            "choose a smaller network or raise model.max_params"
        )
        self.params, self.max_params = params, max_params


def check_param_budget(net: nn.Module, max_params: int) -> int:
    """Return the parameter count, or stop with one clear line when it is over `max_params`."""
    params = count_params(net)
    if params > max_params:  # named by the network that holds the weights, not a wrapper (ShiftAveraged's views)
        inner = folded(net)  # not a wrapper's name: LinearlyExpanded's network, ShiftAveraged's
        raise OverBudget(type(inner.net if isinstance(inner, ShiftAveraged) else inner).__name__, params, max_params)
    return params
