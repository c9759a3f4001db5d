"""The layer table printed at start (layer, output shape, parameters) and the parameter budget."""

from dataclasses import dataclass

import torch
from torch import nn

from mnist_lightning.errors import UserError


@dataclass
class LayerRow:
    """One leaf layer: `Conv2d-1`, its output shape without the batch dimension, its own parameters."""

    name: str
    shape: tuple[int, ...]
    params: int


def count_params(net: nn.Module) -> int:
    """Trainable parameters of `net`."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def layer_table(net: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> list[LayerRow]:
    """Run one zero image through `net` and record every leaf layer in call order, like torchsummary."""
    rows: list[LayerRow] = []

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(LayerRow(f"{type(module).__name__}-{len(rows) + 1}", tuple(output.shape[1:]), params))

    leaves = [m for m in net.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(record) for m in leaves]
    was_training = net.training
    try:
        net.eval()  # BatchNorm in eval mode: a single image is fine and running stats stay untouched
        with torch.no_grad():
            net(torch.zeros(1, *input_shape))
    finally:
        net.train(was_training)
        for hook in hooks:
            hook.remove()
    return rows


def format_layer_table(rows: list[LayerRow], total: int) -> str:
    """The table as text, ending with the total parameter count."""
    lines = [f"{'Layer (type)':>20} {'Output Shape':>20} {'Param #':>10}", "=" * 52]
    for row in rows:
        lines.append(f"{row.name:>20} {str(list(row.shape)):>20} {row.params:>10,}")
    lines += ["=" * 52, f"Total params: {total:,}"]
    return "\n".join(lines)


def check_param_budget(net: nn.Module, max_params: int) -> int:
    """Return the parameter count, or stop with one clear line when it is over `max_params`."""
    params = count_params(net)
    if params > max_params:
        raise UserError(
            f"{type(net).__name__} has {params:,} parameters, over the budget model.max_params={max_params:,}: "
            "choose a smaller network or raise model.max_params"
        )
    return params
