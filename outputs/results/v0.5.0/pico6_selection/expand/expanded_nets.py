"""Round 24 probe (held out): pico_dilated's network trained with every weight linearly over-parameterized
(ExpandNets, Guo et al. 2020; Arora et al. 2018): W = U @ V with an inner dimension wider than W, folded back to W
after training, so the deployed network is pico_dilated's 695 parameters. U, V start balanced from the SVD of the
usual initial weight, so the network starts as the same function; only the optimization differs."""

import torch
from torch import nn
from torch.nn.utils import parametrize

from mnist_lightning.model.nets import StackedSeparableNet


class Factorized(nn.Module):
    """weight (groups*rows, cols...) = U (groups, rows, inner) @ V (groups, inner, cols)."""

    def __init__(self, shape: torch.Size, groups: int, factor: int) -> None:
        super().__init__()
        self.shape, self.groups = shape, groups
        self.rows = shape[0] // groups
        self.cols = int(torch.Size(shape[1:]).numel())
        self.inner = max(factor * self.rows, self.cols)

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u @ v).reshape(self.shape)

    def right_inverse(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = weight.detach().reshape(self.groups, self.rows, self.cols)
        s, sigma, dt = torch.linalg.svd(w, full_matrices=False)  # (g, r, k), (g, k), (g, k, c)
        k = sigma.shape[-1]
        q = torch.linalg.qr(torch.randn(self.groups, self.inner, k)).Q  # orthonormal columns
        root = sigma.sqrt().unsqueeze(-2)
        u = (s * root) @ q.transpose(-1, -2)  # (g, r, inner)
        v = q @ (root.transpose(-1, -2) * dt)  # (g, inner, c)
        return u.contiguous(), v.contiguous()


def expand(net: nn.Module, factor: int) -> nn.Module:
    owners: dict[int, nn.Module] = {}
    for module in list(net.modules()):
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        weight = module.weight
        groups = getattr(module, "groups", 1)
        if id(weight) in owners:  # a dilated repeat holding the same Parameter: read the owner's factors
            owner = owners[id(weight)]
            parametrize.register_parametrization(module, "weight", nn.Identity(), unsafe=True)
            module.parametrizations = owner.parametrizations
            continue
        parametrize.register_parametrization(module, "weight", Factorized(weight.shape, groups, factor))
        owners[id(weight)] = module
    return net


class ExpandedStacked(StackedSeparableNet):
    def __init__(self, expansion: int = 4, **kwargs) -> None:
        super().__init__(**kwargs)
        expand(self, expansion)
