"""experiment=fast: no validation pass between epochs, label smoothing in training only, and its time table."""

import json
import time

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from conftest import compose_train_config
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_lightning.base.errors import UserError
from mnist_lightning.model.lit_module import MNISTLitModule
from mnist_lightning.model.nets import CompactNet
from mnist_lightning.results.frontier import TIME_SITTINGS, time_rows
from mnist_lightning.results.runs import Job, job_rows
from mnist_lightning.run.build import build_module
from mnist_lightning.train import train


class CountValidationBatches(pl.Callback):
    """Counts validation batches, and clocks the end of fit and the test."""

    def __init__(self) -> None:
        self.batches = 0

    def on_validation_batch_end(self, *args: object) -> None:
        self.batches += 1

    def on_fit_end(self, *args: object) -> None:
        self.fit_end = time.perf_counter()

    def on_test_start(self, *args: object) -> None:
        self.test_start = time.perf_counter()

    def on_test_end(self, *args: object) -> None:
        self.test_end = time.perf_counter()


def test_fast_never_validates_and_still_tests_every_image_once(tmp_path):
    counter = CountValidationBatches()
    # 3 epochs of 3 steps, with the default TensorBoard logger: with no val/acc_best to log, the HPARAMS entry is
    # written after Lightning closed the writer at the end of testing (a crash there once went unseen).
    overrides = ["experiment=fast", "trainer.limit_train_batches=3"]
    metrics = train(compose_train_config(tmp_path, overrides), callbacks=[counter])
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")
    assert counter.batches == 0 and metrics["history"] == [] and metrics["val/acc"] is None
    assert metrics["epochs"] == 3 and metrics["test/images"] == 10_000
    # test_seconds is the test alone: at least the test stage, at most what passed since fit ended (it is
    # rounded to 0.01 s, hence the 0.005 either side)
    test_seconds = metrics["test_seconds"]
    assert (
        counter.test_end - counter.test_start - 0.005 <= test_seconds <= time.perf_counter() - counter.fit_end + 0.005
    )
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)  # saved at each epoch's end
    assert (last["epoch"], last["global_step"]) == (2, 9) and metrics["checkpoints"]["best"] is None
    [row] = job_rows([Job(tmp_path, ["experiment=fast"], metrics)], tmp_path)  # the report reads such a run
    assert row["best val acc % (epoch)"] == "- (no validation)" and row["first epoch >= 99.40%"] == "-"


def test_label_smoothing_shapes_the_training_loss_only(tmp_path):
    cfg = compose_train_config(tmp_path, ["experiment=fast"])
    module, _ = build_module(cfg, verbose=False)
    assert cfg.model.label_smoothing == 0.05 and module.hparams.label_smoothing == 0.05
    torch.manual_seed(0)
    images, labels = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    module = MNISTLitModule(net=CompactNet(), optimizer={}, label_smoothing=0.1).eval()
    logits = module(images)
    smoothed, plain = F.cross_entropy(logits, labels, label_smoothing=0.1), F.cross_entropy(logits, labels)
    assert not torch.isclose(smoothed, plain)
    assert torch.isclose(module._shared_step((images, labels), "train")[0], smoothed)
    assert torch.isclose(module._shared_step((images, labels), "val")[0], plain)
    assert torch.isclose(module._shared_step((images, labels), "test")[0], plain)


@pytest.mark.parametrize("value", ["1.0", "-0.1", "null"])
def test_label_smoothing_out_of_range_is_one_clear_error(tmp_path, value):
    with pytest.raises(UserError, match=r"model.label_smoothing must be a number in \[0, 1\), got "):
        build_module(compose_train_config(tmp_path, [f"model.label_smoothing={value}"]), verbose=False)


@pytest.mark.parametrize("overrides", [["test=false", "optimized_metric=val/acc"], ["optimized_metric=val/acc_best"]])
def test_selecting_on_validation_that_never_runs_is_one_clear_error(tmp_path, overrides):
    cfg = compose_train_config(tmp_path, ["experiment=fast", "data.val_size=5000", *overrides])
    with pytest.raises(UserError, match="trainer.limit_val_batches=0 validates nothing"):
        train(cfg)
    assert not (tmp_path / "metrics.json").exists()


def test_a_checkpoint_from_before_label_smoothing_still_opens(tmp_path):
    from mnist_lightning.run.checkpoints import load_module

    overrides = ["experiment=fast", "trainer.max_epochs=1", "trainer.limit_train_batches=2", "logger=none"]
    train(compose_train_config(tmp_path, [*overrides, "trainer.limit_test_batches=1"]))
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    del checkpoint["hyper_parameters"]["label_smoothing"]  # as 0.3.0 wrote it
    torch.save(checkpoint, tmp_path / "old.ckpt")
    assert load_module(tmp_path / "old.ckpt").hparams.label_smoothing == 0.0


def write_run(folder, acc, fit, test, cpu="Some CPU", precision=None, flags=None):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("[]\n")
    provenance = {"git_commit": "abcdef0123", "git_dirty": False, "cpu": cpu, "torch_threads": 2}
    if flags is not None:  # runs before 0.5.0's third fast recipe did not record them
        provenance["cpu_flags"] = flags
    metrics = {"test/acc": acc, "params": 100, "train_seconds": fit, "test_seconds": test, "provenance": provenance}
    if precision:  # runs before 0.5.0's third fast recipe did not record it
        metrics["precision"] = precision
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_the_time_table_compares_fit_plus_test_with_the_first_recipe(tmp_path):
    sitting = tmp_path / TIME_SITTINGS["time"][0]
    for seed, (acc, fit) in enumerate([(0.9950, 48.0), (0.9944, 50.0)], start=1):
        write_run(sitting / "fast_v2" / f"seed{seed}", acc, fit, 1.0, flags=["avx2", "amx_tile"])
    for seed, (acc, fit) in enumerate([(0.9941, 23.0), (0.9939, 25.0)], start=1):
        write_run(sitting / "fast" / f"seed{seed}", acc, fit, 1.0, precision="bf16-mixed", flags=["avx2", "amx_tile"])
    baseline, fast = time_rows(tmp_path)
    assert baseline["fit + test s"] == "50.0" and baseline["vs fast_v2"] == "1.00x"
    assert fast["fit + test s"] == "25.0" and fast["vs fast_v2"] == "0.50x"  # (24 + 1) / (49 + 1)
    assert fast["mean test acc %"] == "99.40" and fast["min"] == "99.39" and fast["seeds"] == "2"
    assert fast["machine"] == "Some CPU, 2 threads"
    # The numerics each recipe trained with: recorded, or fp32 for runs from before metrics.json said
    assert (baseline["precision"], fast["precision"]) == ("32-true", "bf16-mixed")
    assert (baseline["CPU flags"], fast["CPU flags"]) == ("avx2 amx_tile",) * 2  # as the runs recorded them


def test_the_earlier_sitting_names_its_recipes_as_they_are_called_today(tmp_path):
    folder, _ = TIME_SITTINGS["time_fast2"]
    write_run(tmp_path / folder / "fast_v1" / "seed1", 0.9950, 48.0, 1.0)
    write_run(tmp_path / folder / "fast" / "seed1", 0.9944, 23.0, 1.0)
    (tmp_path / folder / "lscpu.txt").write_text("Model name: Some CPU\nFlags: fpu avx2 avx512f avx512_bf16 sse\n")
    baseline, fast_v2 = time_rows(tmp_path, "time_fast2")
    assert baseline["recipe"] == "experiment=fast_v1" and baseline["vs fast_v1"] == "1.00x"
    assert baseline["CPU flags"] == "avx2 avx512f avx512_bf16"  # runs that did not record them: the sitting's lscpu
    assert fast_v2["recipe"] == "experiment=fast_v2 (ran as experiment=fast)" and fast_v2["vs fast_v1"] == "0.49x"


def test_the_time_table_names_every_machine_and_needs_its_baseline(tmp_path):
    sitting = tmp_path / TIME_SITTINGS["time"][0]
    write_run(sitting / "fast" / "seed1", 0.9941, 23.0, 1.0, cpu="CPU A")
    write_run(sitting / "fast" / "seed2", 0.9941, 23.0, 1.0, cpu="CPU B")
    [fast] = time_rows(tmp_path)  # no fast_v2 runs: no ratio rather than a ratio to itself
    assert fast["CPU flags"] == "-"  # not recorded, and no lscpu.txt in the sitting
    assert fast["vs fast_v2"] == "- (no baseline runs)" and fast["machine"] == "CPU A, 2 threads / CPU B, 2 threads"
    write_run(sitting / "fast_v2" / "seed1", 0.9950, 48.0, 1.0, cpu="CPU A")
    write_run(sitting / "fast_v2" / "seed2", 0.9950, 48.0, 1.0, cpu="CPU A")
    (sitting / "fast_v2" / "seed3" / ".hydra").mkdir(parents=True)  # a seed that never finished
    (sitting / "fast_v2" / "seed3" / ".hydra" / "overrides.yaml").write_text("[]\n")
    baseline, fast = time_rows(tmp_path)
    assert baseline["seeds"] == "2 of 3" and baseline["vs fast_v2"] == "1.00x"
    assert fast["vs fast_v2"] == "- (other machines)"  # fast ran partly on CPU B: no ratio across machines
    # One CPU name, two kinds of CPU (a Xeon with AMX and one without): the flags the runs recorded tell them apart
    other = tmp_path / "flags"
    write_run(other / TIME_SITTINGS["time"][0] / "fast_v2" / "seed1", 0.9950, 48.0, 1.0, flags=["avx512f"])
    write_run(other / TIME_SITTINGS["time"][0] / "fast" / "seed1", 0.9941, 23.0, 1.0, flags=["avx512f", "amx_tile"])
    assert time_rows(other)[1]["vs fast_v2"] == "- (other machines)"
