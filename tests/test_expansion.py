"""Linear over-parameterization (model/expansion.py): trained as factors, counted, tabled and shipped as one weight."""

import pytest
import torch
from conftest import compose_train_config
from hydra.utils import instantiate

from mnist_lightning.base.errors import UserError
from mnist_lightning.model.budget import count_params, format_layer_table, layer_table
from mnist_lightning.model.expansion import LinearlyExpanded, folded
from mnist_lightning.model.nets import StackedSeparableNet

PICO = {"stem": 6, "widths": [12, 12], "shared_repeats": 3, "residual": True, "same_padding": True,
        "repeat_dilations": [2, 3, 1], "pooling": "gem"}  # fmt: skip


def test_an_expanded_network_starts_as_the_same_function_and_counts_the_same_parameters():
    torch.manual_seed(0)
    plain = StackedSeparableNet(**PICO)
    torch.manual_seed(0)  # the same initial weights, then factored (the factors' random rotation drawn after them)
    expanded = LinearlyExpanded(StackedSeparableNet(**PICO), factor=4)
    images = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(expanded.eval()(images), plain.eval()(images), rtol=1e-4, atol=1e-5)
    trained = sum(p.numel() for p in expanded.parameters())
    assert count_params(expanded) == count_params(plain) == 695 < trained == 5019  # 5,019 numbers train it
    rows = layer_table(expanded)  # the plain layers, each weight once: the column adds up to the total
    assert sum(row.params for row in rows) == 695
    assert "Factorized" not in format_layer_table(rows, 695) and "Conv2d" in format_layer_table(rows, 695)


def test_the_factors_train_and_fold_to_the_network_they_compute_with_shared_weights_still_shared():
    torch.manual_seed(0)
    net = LinearlyExpanded(StackedSeparableNet(**PICO), factor=4)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    images, labels = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    before = [w.detach().clone() for w in (net.net.stem[0].weight, net.net.classifier.weight)]
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(images), labels).backward()
        optimizer.step()
    assert not torch.equal(before[0], net.net.stem[0].weight) and not torch.equal(before[1], net.net.classifier.weight)
    blocks = net.net.blocks
    # the dilated repeats (blocks 2, 3) read the factors of block 1's depthwise weight: one product, trained once
    for repeat in (2, 3):
        assert torch.equal(blocks[repeat].depthwise.weight, blocks[1].depthwise.weight)
    plain = folded(net)
    torch.testing.assert_close(plain.eval()(images), net.eval()(images))
    for repeat in (2, 3, 4):  # one Parameter, shared (block 4 is block 1's own convolution, undilated)
        assert plain.net.blocks[repeat].depthwise.weight is plain.net.blocks[1].depthwise.weight
    assert sum(p.numel() for p in plain.parameters()) == 695
    assert folded(plain) is plain  # nothing left to fold: no copy


def test_an_expanded_network_costs_the_flops_of_the_network_it_folds_to():
    from mnist_lightning.model.flops import flops_per_image

    torch.manual_seed(0)
    net = LinearlyExpanded(StackedSeparableNet(**PICO), factor=4)
    # The products are per step, not per image: the network is counted folded, as pico_dilated (its committed runs
    # record 1,296,612), not as the wider factors it trains
    assert flops_per_image(net)["train"] == 1_296_612


def test_the_expansion_factor_is_checked_in_one_line():
    for factor in (0, 1.5, True):
        with pytest.raises(UserError, match="model.net.factor must be a positive integer"):
            LinearlyExpanded(StackedSeparableNet(**PICO), factor=factor)


def test_pico_expanded_is_pico_dilated_trained_as_factors(tmp_path):
    expanded = compose_train_config(tmp_path, ["experiment=pico_expanded"])
    dilated = compose_train_config(tmp_path, ["experiment=pico_dilated"])
    inner = expanded.model.net.net
    assert inner._target_.endswith("LinearlyExpanded") and inner.factor == 4
    assert inner.net == dilated.model.net.net  # the same network
    expanded.model.net.net = dilated.model.net.net  # and, the expansion aside, the same model options and recipe
    for section in ("model", "optimizer", "scheduler", "data", "callbacks", "trainer", "distill"):
        assert expanded[section] == dilated[section], section
    assert expanded.trainer.max_epochs == 40
    assert count_params(instantiate(compose_train_config(tmp_path, ["experiment=pico_expanded"]).model.net)) == 695


def test_a_committed_pico_expanded_checkpoint_opens_without_trust_and_folds_to_the_same_answers():
    from pathlib import Path

    from mnist_lightning.data.mnist import default_data_dir, load_normalized
    from mnist_lightning.run.checkpoints import load_module

    ckpt = Path(__file__).parents[1] / "outputs/results/v0.5.0/pico_expanded/seed1/checkpoints/last.ckpt"
    net = load_module(ckpt).net.eval()  # its config names model.expansion: no trust_checkpoint needed
    plain = folded(net)
    assert count_params(net) == sum(p.numel() for p in plain.parameters()) == 695
    images, labels = (t[:200] for t in load_normalized(default_data_dir(), train=False))
    with torch.no_grad():
        logits = net(images)
        torch.testing.assert_close(plain(images), logits, rtol=1e-4, atol=1e-4)
    assert (logits.argmax(1) == labels).float().mean() > 0.97  # the trained network, not a fresh one
