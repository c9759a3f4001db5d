"""Linear over-parameterization for training (ExpandNets, Guo et al., NeurIPS 2020; Arora et al., ICML 2018): each
weight of a network is trained as a product W = U V of two wider factors and folded back to W for everything that
counts or ships it. The network computes the same function either way, so its parameters are those of W (the budget,
the layer table, `metrics.json`, the exported file); only the optimization differs.

Built on torch's own `torch.nn.utils.parametrize`, which recomputes W from U and V at each use; `folded` replaces
them by W itself.
"""

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from mnist_lightning.base.errors import UserError


class Factorized(nn.Module):
    """A weight of `shape` with `groups` groups of `rows` output rows (a depthwise convolution: one group per channel)
    as U (groups, rows, inner) @ V (groups, inner, cols), inner = max(factor x rows, cols)."""

    def __init__(self, shape: torch.Size, groups: int, factor: int) -> None:
        super().__init__()
        self.shape, self.groups = shape, groups
        self.rows, self.cols = shape[0] // groups, int(torch.Size(shape[1:]).numel())
        self.inner = max(factor * self.rows, self.cols)  # at least cols: U V can then equal any starting W

    def forward(self, u: Tensor, v: Tensor) -> Tensor:
        return (u @ v).reshape(self.shape)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        """Factors whose product is `weight` (the network's usual initial weight), balanced: from W = S diag(s) D^T,
        U = S diag(sqrt s) Q^T and V = Q diag(sqrt s) D^T with Q a random matrix of orthonormal columns, so U^T U =
        V V^T and neither factor starts larger than the other. The product has rank k = min(rows, cols), so U's rows and
        V's columns start in a k-dimensional subspace of the inner width, and plain gradient descent would keep them
        there; Adam's per-coordinate steps move them out (the recipe trains with Adam)."""
        w = weight.detach().reshape(self.groups, self.rows, self.cols)
        s, sigma, dt = torch.linalg.svd(w, full_matrices=False)  # (g, r, k), (g, k), (g, k, c)
        draw = torch.randn(self.groups, self.inner, sigma.shape[-1], device=w.device, dtype=w.dtype)
        q = torch.linalg.qr(draw).Q  # (g, inner, k): on the CPU in fp32 the same draws as before this took the device
        root = sigma.sqrt().unsqueeze(-2)  # (g, 1, k)
        u = (s * root) @ q.transpose(-1, -2)
        v = q @ (root.transpose(-1, -2) * dt)
        return u.contiguous(), v.contiguous()


class LinearlyExpanded(nn.Module):
    """`net` with the weight of every convolution and Linear layer trained as a product of two factors (Factorized);
    a weight shared by several layers (StackedSeparableNet's dilated repeats) is one product, still shared. `factor`
    sets the factors' inner width (4: four times the layer's outputs). BatchNorm, GeM and biases are unchanged."""

    def __init__(self, net: nn.Module, factor: int = 4) -> None:
        super().__init__()
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise UserError(f"model.net.factor must be a positive integer, got {factor!r}")
        self.net, self.factor = net, factor
        owners: dict[int, nn.Module] = {}  # id of a weight Parameter -> the layer whose parametrization holds it
        for layer in list(net.modules()):
            if not isinstance(layer, nn.Conv2d | nn.Linear):
                continue
            weight = layer.weight  # read before registering: afterwards it is the product, a new tensor at each read
            if id(weight) in owners:  # the same Parameter in a second layer: read the first one's factors
                parametrize.register_parametrization(layer, "weight", nn.Identity(), unsafe=True)
                layer.parametrizations = owners[id(weight)].parametrizations
                continue
            groups = layer.groups if isinstance(layer, nn.Conv2d) else 1
            parametrize.register_parametrization(layer, "weight", Factorized(weight.shape, groups, factor))
            owners[id(weight)] = layer

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def folded(net: nn.Module) -> nn.Module:
    """`net` itself when nothing in it is expanded; else a copy in which each expanded weight is the plain weight its
    factors make (a shared one stays shared): the network as counted, tabled and exported."""
    if not any(parametrize.is_parametrized(m) for m in net.modules()):
        return net
    net = copy.deepcopy(net)
    plain: dict[int, nn.Parameter] = {}  # one Parameter per product, so a shared weight is counted once
    for layer in list(net.modules()):
        if parametrize.is_parametrized(layer, "weight"):
            key = id(layer.parametrizations["weight"])
            if key not in plain:
                plain[key] = nn.Parameter(layer.weight.detach().clone())
            # What parametrize.remove_parametrizations does, without deleting the product a second layer still reads
            layer.__class__ = layer.__class__.__bases__[0]  # parametrize derived a class from the layer's own
            del layer._modules["parametrizations"]
            layer.weight = plain[key]
    return net
