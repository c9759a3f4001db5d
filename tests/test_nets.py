"""The reference network reproduces the seed's layer table exactly."""

import torch

from mnist_lightning.model.budget import count_params, format_layer_table, layer_table
from mnist_lightning.model.nets import ReferenceNet

# (layer, output shape, parameters) from the seed's torchsummary table.
SEED_TABLE = [
    ("Conv2d-1", (16, 26, 26), 160), ("ReLU-2", (16, 26, 26), 0), ("BatchNorm2d-3", (16, 26, 26), 32),
    ("Dropout-4", (16, 26, 26), 0), ("Conv2d-5", (20, 24, 24), 2900), ("ReLU-6", (20, 24, 24), 0),
    ("BatchNorm2d-7", (20, 24, 24), 40), ("Dropout-8", (20, 24, 24), 0), ("Conv2d-9", (24, 22, 22), 4344),
    ("ReLU-10", (24, 22, 22), 0), ("BatchNorm2d-11", (24, 22, 22), 48), ("MaxPool2d-12", (24, 11, 11), 0),
    ("Conv2d-13", (10, 11, 11), 250), ("ReLU-14", (10, 11, 11), 0), ("BatchNorm2d-15", (10, 11, 11), 20),
    ("Conv2d-16", (16, 9, 9), 1456), ("ReLU-17", (16, 9, 9), 0), ("BatchNorm2d-18", (16, 9, 9), 32),
    ("Dropout-19", (16, 9, 9), 0), ("Conv2d-20", (20, 7, 7), 2900), ("ReLU-21", (20, 7, 7), 0),
    ("BatchNorm2d-22", (20, 7, 7), 40), ("Dropout-23", (20, 7, 7), 0), ("Conv2d-24", (24, 5, 5), 4344),
    ("ReLU-25", (24, 5, 5), 0), ("BatchNorm2d-26", (24, 5, 5), 48), ("Dropout-27", (24, 5, 5), 0),
    ("Conv2d-28", (16, 5, 5), 400), ("ReLU-29", (16, 5, 5), 0), ("BatchNorm2d-30", (16, 5, 5), 32),
    ("Linear-31", (10,), 170),
]  # fmt: skip


def test_layer_table_matches_the_seed():
    rows = layer_table(ReferenceNet())
    assert [(r.name, r.shape, r.params) for r in rows] == SEED_TABLE
    assert count_params(ReferenceNet()) == 17_216


def test_printed_table_ends_with_the_total():
    net = ReferenceNet()
    text = format_layer_table(layer_table(net), count_params(net))
    assert "Conv2d-28" in text and text.splitlines()[-1] == "Total params: 17,216"


def test_dropout_probability_is_configurable_and_outputs_logits():
    net = ReferenceNet(dropout=0.1)
    assert {m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)} == {0.1}
    assert sum(isinstance(m, torch.nn.Dropout) for m in net.modules()) == 5
    assert not any(isinstance(m, torch.nn.Dropout) for m in ReferenceNet(dropout=0).modules())
    logits = ReferenceNet().eval()(torch.randn(4, 1, 28, 28))
    assert logits.shape == (4, 10)
    # Raw logits, not (log-)probabilities: the loss applies log-softmax itself.
    assert not torch.allclose(logits.sum(1), torch.ones(4)) and not torch.allclose(logits.exp().sum(1), torch.ones(4))


def test_receptive_field_grows_by_two_per_conv_and_doubles_its_step_after_the_pool():
    rows = {r.name: r.receptive_field for r in layer_table(ReferenceNet())}
    # 3x3 convs add 2 px each (3, 5, 7); the 2x2 pool adds 1 and doubles the step, so later 3x3s add 4.
    assert [rows[n] for n in ("Conv2d-1", "Conv2d-5", "Conv2d-9", "MaxPool2d-12", "Conv2d-13")] == [3, 5, 7, 8, 8]
    assert [rows[n] for n in ("Conv2d-16", "Conv2d-20", "Conv2d-24", "Conv2d-28", "Linear-31")] == [12, 16, 20, 20, 28]
    assert rows["ReLU-2"] == rows["BatchNorm2d-3"] == 3  # element-wise layers keep it
    header = format_layer_table(layer_table(ReferenceNet()), 17_216).splitlines()[0]
    assert header.split()[-1] == "RF"


def test_a_users_network_is_counted_whole_and_its_mistakes_are_one_line():
    import pytest
    from torch import nn

    from mnist_lightning.base.errors import UserError
    from mnist_lightning.model.budget import check_param_budget

    # A frozen layer is still weights the network holds: the budget counted only trainable ones (1,664 escaped it)
    frozen = nn.Conv2d(1, 64, 5)
    frozen.requires_grad_(False)
    net = nn.Sequential(frozen, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    assert count_params(net) == 1_664 + 650 == sum(row.params for row in layer_table(net))
    with pytest.raises(UserError, match="Sequential has 2,314 parameters, over the budget model.max_params=2,000"):
        check_param_budget(net, 2_000)
    # A global pooling that keeps its 1 x 1 map sees the whole image (RF 5 before)
    assert [row.receptive_field for row in layer_table(net)] == [5, 28, 28, 28]
    # A network that cannot take a 1 x 28 x 28 image, or that does not give 10 scores: one line, not its stack or an
    # IndexError in the loss once training starts
    with pytest.raises(UserError, match=r"model.net \(Sequential\) cannot score a 1x28x28 image: .*3 channels"):
        layer_table(nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten()))
    with pytest.raises(UserError, match=r"model.net \(Sequential\) gives an output of shape \[5\] for an image: it "):
        layer_table(nn.Sequential(nn.Flatten(), nn.Linear(784, 5)))

    class Pair(nn.Module):  # scores and features: an AttributeError on the new check before
        def forward(self, x):
            return x.flatten(1)[:, :10], x

    with pytest.raises(UserError, match=r"model.net \(Pair\) gives tuple for an image: it must give a tensor of 10"):
        layer_table(Pair())

    class SideBranch(nn.Module):  # a squeeze-and-excitation: its global pooling must not widen the main path's RF
        def __init__(self):
            super().__init__()
            self.conv, self.pool, self.head = nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Linear(4 * 26 * 26, 10)

        def forward(self, x):
            x = self.conv(x)
            return self.head((x * self.pool(x)).flatten(1))

    assert [row.receptive_field for row in layer_table(SideBranch())] == [3, 28, 28]


def test_the_cpu_dropout_refuses_a_rate_it_would_round_to_one_and_leaves_other_layouts_to_torch():
    import pytest

    from mnist_lightning.base.errors import UserError
    from mnist_lightning.model.layers import Dropout, check_dropout

    with pytest.raises(UserError, match=r"model.dropout=0.99999 rounds to 1 .* give a smaller one"):
        check_dropout(0.99999)  # a division by zero in the first training step before
    dropout = Dropout(0.5).train()
    rows = dropout(torch.ones(1, 16).expand(64, 16))  # one row seen 64 times: each still gets its own mask
    assert len({tuple(row.tolist()) for row in rows}) > 32
    sliced = torch.ones(4, 4, 8, 8)[:, :, 1:-1, 1:-1]  # not dense: the mask's layout would read out of bounds
    assert dropout(sliced).shape == (4, 4, 6, 6)
