"""What the training step adds to the network's own work: the fused epoch statistics and the hook-name shortcut must
give what torchmetrics' metrics and nn.Module's __setattr__ give. (The statistics' sum over DDP processes is checked
by test_ddp.py, on two real processes.)"""

import pytest
import torch
from torch import nn
from torchmetrics import MeanMetric, SumMetric
from torchmetrics.classification import MulticlassAccuracy

from mnist_lightning.model.lit_module import EpochStats, MNISTLitModule


def batches(dtype: torch.dtype, sizes=(28, 28, 13, 1, 28)):
    generator = torch.Generator().manual_seed(0)
    for size in sizes:  # a last short batch, and a batch of one image
        logits = torch.randn(size, 10, generator=generator).to(dtype)
        labels = torch.randint(0, 10, (size,), generator=generator)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels).to(dtype)
        yield logits, labels, loss


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_epoch_stats_give_torchmetrics_accuracy_mean_loss_and_count(dtype):
    stats = EpochStats()
    accuracy = MulticlassAccuracy(num_classes=10, average="micro")
    mean_loss, count = MeanMetric(), SumMetric()
    for logits, labels, loss in batches(dtype):
        stats.update(logits, labels, loss)
        accuracy.update(logits, labels)
        mean_loss.update(loss.float(), weight=labels.numel())
        count.update(labels.numel())
    values = stats.compute()
    assert values["acc"].item() == accuracy.compute().item()
    assert values["loss"].item() == pytest.approx(mean_loss.compute().item(), rel=1e-6)
    assert values["count"].item() == count.compute().item() == 98
    stats.reset()  # a new epoch starts from nothing
    logits, labels, loss = next(batches(dtype, sizes=(5,)))
    stats.update(logits, labels, loss)
    assert stats.compute()["count"].item() == 5


def test_epoch_stats_follow_a_module_converted_to_float64():
    """trainer.precision=64-true converts the module, metric states included, to float64."""
    stats = EpochStats().to(torch.float64)
    assert stats.totals.dtype == torch.float64
    for logits, labels, loss in batches(torch.float64):
        stats.update(logits, labels, loss)
    assert stats.compute()["count"].item() == 98


def test_the_hook_name_shortcut_leaves_parameters_and_modules_registered():
    module = MNISTLitModule(net=nn.Linear(2, 2), optimizer={})
    module._current_fx_name = "training_step"  # what Lightning sets around each hook
    assert module._current_fx_name == "training_step" and "_current_fx_name" not in module._modules
    module.extra = nn.Linear(3, 3)  # every other name still goes through nn.Module's registration
    module.scale = nn.Parameter(torch.ones(1))
    assert "extra.weight" in module.state_dict() and "scale" in dict(module.named_parameters())
