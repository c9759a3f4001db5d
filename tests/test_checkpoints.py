"""Checkpoints are what they claim: last.ckpt is the latest epoch, the best one is never chosen on the test set,
and a file holding Python objects is refused before anything in it runs."""

import functools
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from conftest import CONF_DIR, assert_clear_error, compose_train_config, run_here
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from mnist_lightning.base.errors import UserError
from mnist_lightning.inference.server import load_classifier
from mnist_lightning.predict import predict
from mnist_lightning.run import checkpoints
from mnist_lightning.run.checkpoints import read_checkpoint, run_setting_differences
from mnist_lightning.train import train


def evaluate_accuracy(ckpt: Path, cwd: Path, *args: str) -> str:
    """The accuracy line `evaluate` prints for `ckpt`."""
    result = run_here("mnist_lightning.evaluate", f"ckpt_path={ckpt}", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return next(line for line in result.stdout.splitlines() if line.startswith("test accuracy: "))


def run_accuracy(run: Path) -> str:
    """The same line made from the run's metrics.json."""
    metrics = json.loads((run / "metrics.json").read_text())
    return f"test accuracy: {100 * metrics['test/acc']:.2f}% (loss {metrics['test/loss']:.4f})"


def test_last_ckpt_is_the_last_epoch_when_validation_stops_improving(tmp_path):
    run = tmp_path / "run"
    # A learning rate near zero: validation accuracy stops improving early, so the best epoch is not the last.
    args = ["trainer.max_epochs=4", "trainer.limit_train_batches=10", "data.val_size=2000", "optimizer.lr=1e-6",
            "logger=none", f"hydra.run.dir={run}"]  # fmt: skip
    result = run_here("mnist_lightning.train", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    best_epoch = metrics["epoch_of_val_acc_best"]
    assert metrics["status"] == "ok" and best_epoch < 4

    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (3, 40)  # after epoch 4 (Lightning counts from 0), 40 steps
    # One definition of "best": the checkpoint file holds the epoch metrics.json names (files count from 0).
    assert [p.name for p in run.glob("checkpoints/best-*.ckpt")] == [f"best-epoch{best_epoch - 1:02d}.ckpt"]
    assert metrics["checkpoints"]["best"].endswith(f"best-epoch{best_epoch - 1:02d}.ckpt")
    assert evaluate_accuracy(run / "checkpoints" / "last.ckpt", tmp_path) == run_accuracy(run)


class CreatesFile:
    """Unpickling this opens (creates) a file: what a malicious checkpoint would do, made harmless to see."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_crafted_checkpoint_is_refused_by_evaluate_predict_and_resume(trained_sweep, tmp_path):
    checkpoint = torch.load(trained_sweep / "0" / "checkpoints" / "last.ckpt", weights_only=True)
    marker = tmp_path / "created_by_the_checkpoint"
    checkpoint["hyper_parameters"]["note"] = CreatesFile(marker)
    crafted = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, crafted)
    refused = "crafted.ckpt was not opened: it holds Python objects .*open.*trust_checkpoint=true"

    assert_clear_error(run_here("mnist_lightning.evaluate", f"ckpt_path={crafted}", cwd=tmp_path), refused)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("predict", overrides=[f"ckpt_path={crafted}", f"inputs={tmp_path}"])
    with pytest.raises(UserError, match=refused):
        predict(cfg)
    with pytest.raises(UserError, match=refused):
        train(compose_train_config(tmp_path / "resumed", [f"ckpt_path={crafted}"]))
    assert not marker.exists()  # nothing in the file ran


def test_the_loader_itself_refuses_python_objects_not_only_the_scan_before_it(trained_sweep, tmp_path, monkeypatch):
    checkpoint = torch.load(trained_sweep / "0" / "checkpoints" / "last.ckpt", weights_only=True)
    marker = tmp_path / "created_by_the_checkpoint"
    checkpoint["hyper_parameters"]["note"] = CreatesFile(marker)
    crafted = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, crafted, _use_new_zipfile_serialization=False)  # torch's legacy format, too
    monkeypatch.setattr(checkpoints, "unsafe_globals", lambda path: [])  # as if the scan had found nothing
    with pytest.raises(UserError, match="was not opened: it holds Python objects"):
        read_checkpoint(crafted)
    assert not marker.exists()


def test_a_checkpoint_of_an_earlier_version_opens_only_when_trusted(trained_sweep, tmp_path):
    ckpt = trained_sweep / "0" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(ckpt, weights_only=True)
    # What versions before 0.2 wrote: optimizer factories and NumPy's random state as Python objects.
    checkpoint["hyper_parameters"]["optimizer"] = functools.partial(torch.optim.Adam, lr=0.003)
    rng = next(state for key, state in checkpoint["callbacks"].items() if key.startswith("RngState"))
    rng["numpy"] = np.random.get_state()
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)

    with pytest.raises(UserError, match=r"holds Python objects \(.*\).*trust_checkpoint=true"):
        read_checkpoint(old)
    assert read_checkpoint(old, trust=True)["hyper_parameters"]["optimizer"].func is torch.optim.Adam
    # The same weights as the run's last.ckpt, so exactly the run's accuracy.
    assert evaluate_accuracy(old, tmp_path, "trust_checkpoint=true") == run_accuracy(trained_sweep / "0")
    # And training resumes from it (its NumPy random state restored from the old form) for one more epoch.
    more = ["trainer.max_epochs=2", "trainer.limit_train_batches=5", "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1", "logger=none", f"ckpt_path={old}", "trust_checkpoint=true"]  # fmt: skip
    metrics = train(compose_train_config(tmp_path / "resumed", more))
    assert metrics["status"] == "ok" and [row["epoch"] for row in metrics["history"]] == [1, 2]


def test_a_checkpoint_naming_another_callable_to_build_is_refused_before_it_runs(trained_sweep, tmp_path):
    # Plain data only, so the weights-only loader opens it; but its stored network config names os.mkdir.
    checkpoint = torch.load(trained_sweep / "0" / "checkpoints" / "last.ckpt", weights_only=True)
    target = tmp_path / "made_by_the_checkpoint"
    checkpoint["hyper_parameters"]["net_config"] = {"_target_": "os.mkdir", "path": str(target)}
    crafted = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, crafted)
    with pytest.raises(UserError, match="'os.mkdir' to build, which is not one of this project's networks"):
        checkpoints.load_module(crafted)
    assert not target.exists()
    assert_clear_error(run_here("mnist_lightning.evaluate", f"ckpt_path={crafted}", cwd=tmp_path), "not one of")
    # serve's loader too (export's is load_module, checked above)
    with pytest.raises(UserError, match="not one of this project's networks"):
        load_classifier(str(crafted))
    assert not target.exists()
    # A safe module's prefix is not enough: Hydra would reach os through the modules it imports.
    for reached in ("mnist_lightning.model.nets.torch.os.mkdir", "mnist_lightning.model.expansion.copy.copy"):
        with pytest.raises(UserError, match="not one of this project's networks"):
            checkpoints.check_targets({"net_config": {"_target_": reached, "path": str(target)}}, crafted)
    checkpoints.check_targets({"_target_": "mnist_lightning.model.expansion.LinearlyExpanded"}, crafted)  # its own
    checkpoints.check_targets({"_target_": "torch.optim.lr_scheduler.OneCycleLR"}, crafted)


def test_a_checkpoint_of_the_flat_layout_before_0_5_opens_with_its_stored_targets(trained_sweep, tmp_path):
    # Versions before 0.5.0 kept the networks in mnist_lightning/nets.py and the seed's schedule in module.py.
    checkpoint = torch.load(trained_sweep / "0" / "checkpoints" / "last.ckpt", weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    assert hparams["net_config"]["_target_"] == "mnist_lightning.model.nets.ReferenceNet"
    hparams["net_config"]["_target_"] = "mnist_lightning.nets.ReferenceNet"
    hparams["scheduler"]["_target_"] = "mnist_lightning.module.exponential_lambda"
    flat = tmp_path / "flat_layout.ckpt"
    torch.save(checkpoint, flat)
    module = checkpoints.load_module(flat)  # without the mapping: refused as "not one of this project's networks"
    assert type(module.net).__name__ == "ReferenceNet"
    assert module.hparams.scheduler["_target_"] == "mnist_lightning.model.lit_module.exponential_lambda"
    assert evaluate_accuracy(flat, tmp_path) == run_accuracy(trained_sweep / "0")


def test_a_checkpoint_that_does_not_name_its_network_says_where_the_run_config_would_be(trained_sweep, tmp_path):
    # Outside a run folder the message named <root>/.hydra/config.yaml, a path that meant nothing to the user
    checkpoint = torch.load(trained_sweep / "0" / "checkpoints" / "last.ckpt", weights_only=True)
    del checkpoint["hyper_parameters"]["net_config"]
    bare = tmp_path / "bare.ckpt"
    torch.save(checkpoint, bare)
    beside = "it is not in a run folder's checkpoints/, beside the run's .hydra/config.yaml"
    with pytest.raises(UserError, match=f"^{bare} does not say which network made it, and {re.escape(beside)}$"):
        checkpoints.load_module(bare)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    in_run = tmp_path / "run" / "checkpoints" / "last.ckpt"
    torch.save(checkpoint, in_run)
    with pytest.raises(UserError, match=f"and {tmp_path}/run/.hydra/config.yaml is missing$"):
        checkpoints.load_module(in_run)


def test_a_trusted_checkpoint_that_pickled_the_flat_layouts_schedule_still_opens(trained_sweep, tmp_path, monkeypatch):
    # 0.1 pickled functools.partial(mnist_lightning.module.exponential_lambda); that module is model/lit_module.py now.
    from mnist_lightning.model import lit_module

    flat_module = types.ModuleType("mnist_lightning.module")

    def exponential_lambda(optimizer, gamma=0.85):
        return lit_module.exponential_lambda(optimizer, gamma)

    exponential_lambda.__module__, exponential_lambda.__qualname__ = flat_module.__name__, "exponential_lambda"
    flat_module.exponential_lambda = exponential_lambda
    monkeypatch.setitem(sys.modules, flat_module.__name__, flat_module)  # only while pickling, as 0.1 had it
    checkpoint = torch.load(trained_sweep / "0" / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["hyper_parameters"]["scheduler"] = functools.partial(exponential_lambda, gamma=0.85)
    old = tmp_path / "flat_0.1.ckpt"
    torch.save(checkpoint, old)
    monkeypatch.delitem(sys.modules, flat_module.__name__)

    with pytest.raises(UserError, match="holds Python objects"):
        read_checkpoint(old)
    scheduler = read_checkpoint(old, trust=True)["hyper_parameters"]["scheduler"]
    assert scheduler.func is lit_module.exponential_lambda and scheduler.keywords == {"gamma": 0.85}


def test_resuming_with_other_network_options_that_hold_no_weights_is_refused(trained_sweep, tmp_path):
    # The weights fit whatever the dropout, crop or padding: only the stored network config can tell.
    ckpt = trained_sweep / "0" / "checkpoints" / "last.ckpt"
    result = run_here("mnist_lightning.train", f"ckpt_path={ckpt}", "model.dropout=0.1", "trainer.max_epochs=2",
                      f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)  # fmt: skip
    assert_clear_error(result, r"was trained with model.dropout=0.05 and this run has model.dropout=0.1")
    # An option an older checkpoint's config does not name counts as the network's default.
    from types import SimpleNamespace

    from mnist_lightning.run.checkpoints import check_same_network_options

    older = {"_target_": "mnist_lightning.model.nets.CompactNet", "block1": [8, 16], "dropout": 0.0}
    checkpoint = {"hyper_parameters": {"net_config": older}}
    check_same_network_options(checkpoint, SimpleNamespace(hparams={"net_config": {**older, "crop": 0}}), ckpt)
    with pytest.raises(UserError, match="model.net.crop=0 and this run has model.net.crop=2"):
        check_same_network_options(checkpoint, SimpleNamespace(hparams={"net_config": {**older, "crop": 2}}), ckpt)
    # A default given as a tuple, (8, 16, 16), is the same as a config's list.
    check_same_network_options(checkpoint, SimpleNamespace(hparams={"net_config": {**older, "block2": [16] * 3}}), ckpt)
    # A network inside a network (ShiftAveraged) is compared option by option, with its own defaults.
    inner = {"_target_": "mnist_lightning.model.nets.StackedSeparableNet", "widths": [12, 12]}
    shifted = {"_target_": "mnist_lightning.model.nets.ShiftAveraged", "shift": 1, "net": inner}
    checkpoint = {"hyper_parameters": {"net_config": shifted}}
    same = {**shifted, "net": {**inner, "pool_after": 0}}
    check_same_network_options(checkpoint, SimpleNamespace(hparams={"net_config": same}), ckpt)
    for changed, message in [
        ({**shifted, "shift": 2}, "model.net.shift=1 and this run has model.net.shift=2"),
        ({**shifted, "net": {**inner, "residual": True}}, "model.net.net.residual=False and"),
    ]:
        with pytest.raises(UserError, match=message):
            check_same_network_options(checkpoint, SimpleNamespace(hparams={"net_config": changed}), ckpt)


def test_resuming_with_fewer_epochs_than_done_is_one_line_before_lightning_sets_up(trained_sweep, tmp_path):
    # Lightning refuses it only after the whole set-up, with a MisconfigurationException and its traceback.
    checkpoint = torch.load(trained_sweep / "0" / "checkpoints" / "last.ckpt", weights_only=True)
    progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]
    assert progress["current"]["completed"] == checkpoint["epoch"] == 0  # what a 1-epoch run's last.ckpt holds
    checkpoint["epoch"] = 5  # as the end of a run's sixth epoch saves it: 5 completed, 6 processed
    for counts in progress.values():
        counts |= {"ready": 6, "started": 6, "processed": 6, "completed": 5}
    ckpt = tmp_path / "epoch6.ckpt"
    torch.save(checkpoint, ckpt)
    common = [f"ckpt_path={ckpt}", "model.dropout=0.05", f"hydra.run.dir={tmp_path / 'run'}"]
    result = run_here("mnist_lightning.train", *common, "trainer.max_epochs=4", cwd=tmp_path)
    message = r"epoch6.ckpt has trained 6 epochs, more than trainer.max_epochs=4: to train on from it, give "
    assert_clear_error(result, message + r"trainer.max_epochs above 6$")
    from mnist_lightning.run.checkpoints import check_epochs_left

    for max_epochs in (6, 7, -1, None):  # 6: nothing more to train, the checkpoint is tested
        check_epochs_left(checkpoint, ckpt, max_epochs)
    for max_epochs in (5, 4):  # 5 Lightning accepts and then trains nothing; 4 it refuses after its set-up
        with pytest.raises(UserError, match=f"has trained 6 epochs, more than trainer.max_epochs={max_epochs}"):
            check_epochs_left(checkpoint, ckpt, max_epochs)


def test_a_checkpoint_of_another_network_names_the_choices_of_the_run_that_made_it(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- experiment=pico6\n- seed=1\n- +model.net.shift=2\n")
    other, ckpt = {"state_dict": {"weight": torch.zeros(3)}}, run / "checkpoints" / "last.ckpt"
    choices = r"\(its run had experiment=pico6 \+model.net.shift=2\)$"
    with pytest.raises(UserError, match=r"use the model config it was trained with " + choices):
        checkpoints.check_same_network(other, torch.nn.Linear(1, 1), ckpt)
    (run / ".hydra" / "overrides.yaml").write_text("- seed=1\n")
    with pytest.raises(UserError, match=r"\(its run had the default model\)$"):
        checkpoints.check_same_network(other, torch.nn.Linear(1, 1), ckpt)
    with pytest.raises(UserError, match=r"use the model config it was trained with$"):  # no run folder beside it
        checkpoints.check_same_network(other, torch.nn.Linear(1, 1), tmp_path / "last.ckpt")


def test_an_exported_file_given_as_a_checkpoint_asks_for_the_ckpt(tmp_path):
    for name in ("model.onnx", "model.pt2"):  # export's two formats (a .pt2 said "not a checkpoint (RuntimeError)")
        (tmp_path / name).write_bytes(b"\x08\x07exported")
        with pytest.raises(UserError, match=rf"{name} is an exported network, not a checkpoint: give the .ckpt"):
            read_checkpoint(tmp_path / name)


def test_a_network_option_set_from_another_is_named_as_the_user_types_it():
    from omegaconf import OmegaConf

    from mnist_lightning.run.checkpoints import option_source

    cfg = OmegaConf.create({"dropout": 0.1, "model": {"dropout": "${dropout}", "net": {"shift": 1, "net": {
        "dropout": "${model.dropout}", "stem": 6}}}})  # fmt: skip
    assert option_source(cfg, "model.net.net.dropout") == "dropout"  # followed through two interpolations
    assert option_source(cfg, "model.net.net.stem") == "model.net.net.stem"
    assert option_source(cfg, "model.net.shift") == "model.net.shift"
    assert option_source(cfg, "model.net.crop") == "model.net.crop"  # not in the config (a default)


def test_a_resume_names_each_training_setting_that_differs_from_the_run_that_wrote_the_checkpoint(tmp_path):
    run = tmp_path / "run"  # as Hydra leaves it: the composed config, unresolved, in .hydra/config.yaml
    (run / ".hydra").mkdir(parents=True)
    earlier = ["trainer.max_epochs=1", "trainer.limit_train_batches=300", "seed=2"]
    OmegaConf.save(compose_train_config(run, earlier), run / ".hydra" / "config.yaml")
    ckpt = run / "checkpoints" / "last.ckpt"
    # The same overrides into another folder, with another logger: nothing that changes what is trained.
    assert run_setting_differences(ckpt, compose_train_config(tmp_path / "again", [*earlier, "logger=csv"])) == []
    forgotten = compose_train_config(tmp_path / "new", ["model.dropout=0.1", "optimizer.lr=0.01", "data.batch_size=64"])
    assert run_setting_differences(ckpt, forgotten) == [
        "data.batch_size: 28 -> 64",
        "model.dropout: 0.05 -> 0.1",
        "optimizer.lr: 0.003 -> 0.01",
        "seed: 2 -> 1",
        "trainer.limit_train_batches: 300 -> null",
        "trainer.max_epochs: 1 -> 20",
    ]
    # What changes no training: the evaluation's batch, the folders (data.data_dir, trainer.default_root_dir), printing.
    unchanged = ["data.eval_batch_size=100", "data.data_dir=/elsewhere", "trainer.default_root_dir=/x",
                 "trainer.log_every_n_steps=5", "torch_threads=1"]  # fmt: skip
    assert run_setting_differences(ckpt, compose_train_config(tmp_path / "b", [*earlier, *unchanged])) == []
    # A run of 0.4.0, resumed with its own overrides: its classes' old paths and the options added since are no change.
    old_run = CONF_DIR.parent / "outputs" / "results" / "v0.4.0" / "nano" / "seed1"
    overrides = ["experiment=nano", "seed=1", "torch_threads=1", "callbacks.progress_bar.refresh_rate=1000"]
    assert (old_run / ".hydra" / "config.yaml").is_file()
    old_ckpt = old_run / "checkpoints" / "last.ckpt"
    assert run_setting_differences(old_ckpt, compose_train_config(tmp_path / "c", overrides)) == []
    assert run_setting_differences(tmp_path / "elsewhere" / "checkpoints" / "x.ckpt", forgotten) == []  # no config


def test_a_run_resumed_with_a_setting_left_out_says_so_in_one_line(tmp_path, caplog):
    short = [
        "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "logger=none",
    ]
    first = compose_train_config(tmp_path / "first", [*short, "trainer.max_epochs=1", "model.label_smoothing=0.1"])
    (tmp_path / "first" / ".hydra").mkdir(parents=True)
    OmegaConf.save(first, tmp_path / "first" / ".hydra" / "config.yaml")  # as Hydra writes it for a command
    train(first)
    ckpt = f"ckpt_path={tmp_path / 'first' / 'checkpoints' / 'last.ckpt'}"
    with caplog.at_level("WARNING"):
        train(compose_train_config(tmp_path / "resumed", [*short, "trainer.max_epochs=2", ckpt]))
    [line] = [r.getMessage() for r in caplog.records if "settings other than its run's" in r.getMessage()]
    assert "(model.label_smoothing: 0.1 -> 0.0, trainer.max_epochs: 1 -> 2)" in line


def test_a_resume_that_cannot_go_on_with_its_optimizer_or_schedule_is_one_line(tmp_path):
    # Lightning restores the optimizer and scheduler from the checkpoint: a new optimizer.lr was recorded but not used,
    # another scheduler failed with a KeyError, and a OneCycle run given more epochs failed at its old length + 1 step.
    short = ["trainer.limit_train_batches=6", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
             "logger=none", "trainer.max_epochs=1"]  # fmt: skip
    runs = {}
    for name, schedule in (("exponential", []), ("onecycle", ["scheduler=onecycle"])):
        train(compose_train_config(tmp_path / name, [*short, *schedule]))
        runs[name] = tmp_path / name / "checkpoints" / "last.ckpt"
    refused = {
        ("exponential", "optimizer.lr=0.1"): "was trained with optimizer.lr=0.003 and this run has optimizer.lr=0.1: "
        "a resumed run goes on with the optimizer and schedule its checkpoint holds",
        ("exponential", "scheduler=onecycle"): "was trained with scheduler exponential_lambda and this run has "
        "OneCycleLR",
        ("onecycle", "scheduler.max_lr=0.05"): "was trained with scheduler.max_lr=0.01 and this run has "
        "scheduler.max_lr=0.05",
        ("onecycle", "trainer.max_epochs=2"): "the checkpoint's OneCycle schedule runs 6 steps and this run has 12: "
        "resume it with its run's trainer.max_epochs",
    }
    for (name, change), message in refused.items():
        schedule = ["scheduler=onecycle"] if name == "onecycle" and not change.startswith("scheduler=") else []
        cfg = compose_train_config(tmp_path / f"{name}_again", [*short, *schedule, change, f"ckpt_path={runs[name]}"])
        with pytest.raises(UserError, match=re.escape(message)):
            train(cfg)
    # The same settings go on: the exponential schedule for more epochs too, with another optimizer kernel (fused)
    ckpt = f"ckpt_path={runs['exponential']}"
    train(compose_train_config(tmp_path / "on", [*short, "trainer.max_epochs=2", "optimizer.fused=false", ckpt]))

    # A OneCycle run stopped after its first epoch of two resumes with its own length
    class StopAfterTheFirstEpoch(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            trainer.should_stop = True

    two = [*short, "scheduler=onecycle", "trainer.max_epochs=2"]
    train(compose_train_config(tmp_path / "stopped", two), callbacks=[StopAfterTheFirstEpoch()])
    stopped = tmp_path / "stopped" / "checkpoints" / "last.ckpt"
    resumed = train(compose_train_config(tmp_path / "resumed", [*two, f"ckpt_path={stopped}"]))
    assert resumed["epochs"] == 2 and resumed["status"] == "ok"
