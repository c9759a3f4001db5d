"""What the training step adds to the network's own work: the fused epoch statistics and the hook-name shortcut must
give what torchmetrics' metrics and nn.Module's __setattr__ give. (The statistics' sum over DDP processes is checked
by test_ddp.py, on two real processes.)"""

import pytest
import torch
from pytorch_lightning.plugins.precision import DoublePrecision, HalfPrecision, Precision
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
        values = stats.compute()  # after every batch: the running figures agree too
        assert values["acc"].item() == accuracy.compute().item()
        assert values["loss"].item() == pytest.approx(mean_loss.compute().item(), rel=1e-6)
        assert values["count"].item() == count.compute().item()
    assert values["count"].item() == 98
    stats.reset()  # a new epoch starts from nothing
    logits, labels, loss = next(batches(dtype, sizes=(5,)))
    stats.update(logits, labels, loss)
    assert stats.compute()["count"].item() == 5


@pytest.mark.parametrize("precision", [HalfPrecision("bf16-true"), HalfPrecision("16-true"), DoublePrecision()])
def test_epoch_stats_count_a_whole_epoch_exactly_in_every_true_precision(precision: Precision):
    """Lightning converts the whole module for trainer.precision=bf16-true, 16-true and 64-true, metric states
    included: a bf16 state stopped counting at 8,192 images. 2,143 batches of 28 are a reference training epoch."""
    module = precision.convert_module(MNISTLitModule(net=nn.Linear(2, 2), optimizer={}))
    stats = module.metrics["train_"]
    assert stats.totals.dtype in (torch.float32, torch.float64)
    logits = torch.zeros(28, 10, dtype=module.net.weight.dtype)
    logits[:20, 3] = 1  # 20 of every 28 images right
    labels = torch.full((28,), 3)
    for _ in range(2_143):
        stats.update(logits, labels, torch.tensor(0.5, dtype=logits.dtype))
    values = stats.compute()
    assert values["count"].item() == 60_004 and values["acc"].item() == pytest.approx(20 / 28, abs=1e-6)
    assert values["loss"].item() == pytest.approx(0.5, abs=1e-4)
    stats.reset()
    assert stats.totals.dtype in (torch.float32, torch.float64)  # reset() restores the float32 default


def test_an_epoch_of_no_images_has_accuracy_0_as_before():
    """torchmetrics' accuracy gave 0 for no images, and the printed line rounds accuracy x images."""
    with pytest.warns(UserWarning, match="before the ``update``"):
        values = EpochStats().compute()
    assert values["acc"].item() == 0 and values["count"].item() == 0


@pytest.mark.parametrize("value", ["training_step", None])
def test_the_hook_name_skips_nn_modules_setattr_and_lands_where_it_would(monkeypatch, value):
    calls = []
    module_setattr = nn.Module.__setattr__

    def spy(self, name, new):
        calls.append(name)
        module_setattr(self, name, new)

    shortcut, reference = (MNISTLitModule(net=nn.Linear(2, 2), optimizer={}) for _ in range(2))
    extra, scale = nn.Linear(3, 3), nn.Parameter(torch.ones(1))
    monkeypatch.setattr(nn.Module, "__setattr__", spy)
    shortcut._current_fx_name = value  # what Lightning sets around each hook
    shortcut.extra, shortcut.scale = extra, scale  # every other name still goes through nn.Module's registration
    monkeypatch.undo()
    assert calls == ["extra", "scale"]
    module_setattr(reference, "_current_fx_name", value)
    assert shortcut.__dict__["_current_fx_name"] == reference.__dict__["_current_fx_name"] == value
    for registry in ("_parameters", "_modules", "_buffers"):
        assert "_current_fx_name" not in shortcut.__dict__[registry]
    assert "extra.weight" in shortcut.state_dict() and "scale" in dict(shortcut.named_parameters())
