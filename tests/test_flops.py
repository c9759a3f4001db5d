"""The compute a run records: FLOPs per image counted from the network's shapes, and the run's totals."""

import json
from pathlib import Path

import torch
from torch import nn

from mnist_lightning.model.flops import flops_per_image, run_flops
from mnist_lightning.results.frontier import fit_and_test_flops


def test_flops_per_image_count_the_products_forward_and_backward():
    # 3x3 convolution to 2 channels (26 x 26 x 2 outputs of 9 multiply-adds), then a linear layer of 1,352 x 10.
    net = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.Flatten(), nn.Linear(26 * 26 * 2, 10, bias=False))
    conv, linear = 26 * 26 * 2 * 9, 26 * 26 * 2 * 10
    flops = flops_per_image(net)
    assert flops["forward"] == 2 * (conv + linear)
    # Backward: both weight gradients and the linear layer's input gradient; the image itself needs none.
    assert flops["train"] == 2 * (conv + linear) + 2 * (conv + 2 * linear)


def test_counting_leaves_the_seeded_random_state_and_the_network_as_they_were():
    from conftest import compose_train_config
    from hydra.utils import instantiate

    net = instantiate(compose_train_config(Path("."), ["model.dropout=0.1"]).model.net).train()  # dropout draws
    before = {name: value.clone() for name, value in net.state_dict().items()}
    torch.manual_seed(1)
    flops_per_image(net)
    after_counting = torch.rand(3)
    torch.manual_seed(1)
    assert torch.equal(after_counting, torch.rand(3))  # the training that follows draws what it would have
    assert all(torch.equal(before[name], value) for name, value in net.state_dict().items())  # BatchNorm stats too
    assert net.training


def test_a_run_counts_every_epoch_and_its_validation_and_test():
    per_image = {"forward": 10, "train": 30}
    flops = run_flops(per_image, {"train": 100, "val": 20}, {"train": 4, "val": 2}, test_images=50)
    assert flops == {"per_image_forward": 10, "per_image_train": 30, "train": 30 * 100 * 4, "val": 10 * 20 * 2,
                     "fit": 30 * 100 * 4 + 10 * 20 * 2, "test": 10 * 50}  # fmt: skip
    no_validation = run_flops(per_image, {"train": 100}, {"train": 4, "val": 0}, test_images=None)
    assert no_validation["val"] == 0 and no_validation["fit"] == 30 * 100 * 4 and no_validation["test"] is None


def test_metrics_json_records_the_reference_networks_flops_and_older_runs_are_counted_the_same(trained_sweep):
    written = json.loads((trained_sweep / "0" / "metrics.json").read_text())  # 300 steps of 28, 1 epoch
    flops = written["flops"]
    assert (flops["per_image_forward"], flops["per_image_train"]) == (8_503_328, 25_315_296)  # 17,216 parameters
    assert flops["train"] == flops["per_image_train"] * 300 * 28
    assert flops["val"] == flops["test"] == flops["per_image_forward"] * 10_000  # validation on the test set, once
    # A run of an earlier version has no "flops": report counts them from its config, to the same number.
    assert fit_and_test_flops(written) == (flops["fit"] + flops["test"], True)
    assert fit_and_test_flops({k: v for k, v in written.items() if k != "flops"}) == (
        flops["fit"] + flops["test"],
        False,
    )


def test_a_grouped_convolutions_weight_gradient_costs_its_forward_products_not_groups_times_more():
    from torch import nn

    from mnist_lightning.model.flops import flops_per_image

    # torch's own formula counts the depthwise layer's weight gradient 4 times over here (its 4 groups).
    net = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.Conv2d(4, 4, 3, groups=4, bias=False), nn.Flatten())
    first, depthwise = 2 * 26 * 26 * 4 * 9, 2 * 24 * 24 * 4 * 9  # forward FLOPs per image (2 per multiply-add)
    counted = flops_per_image(net)
    assert counted["forward"] == first + depthwise
    # The first layer's input needs no gradient: its weight gradient only; the depthwise one both gradients.
    assert counted["train"] == 2 * first + 3 * depthwise
