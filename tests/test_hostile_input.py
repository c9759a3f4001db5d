"""Wrong input ends in one clear error before anything is written; no earlier run's file is touched."""

import re
from pathlib import Path

import pytest
import torch
from conftest import CONF_DIR, compose_train_config, run_here
from hydra import compose, initialize_config_dir

from mnist_lightning.base.errors import UserError, find_user_error
from mnist_lightning.data import mnist as data
from mnist_lightning.evaluate import evaluate
from mnist_lightning.train import train


@pytest.fixture
def earlier_run(tmp_path) -> Path:
    """A folder holding an earlier run's files, which a failing run pointed at it must leave alone."""
    run = tmp_path / "earlier"
    (run / "checkpoints").mkdir(parents=True)
    (run / "metrics.json").write_text('{"test/acc": 0.9948}\n')
    (run / "checkpoints" / "last.ckpt").write_bytes(b"earlier checkpoint")
    return run


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def foreign_checkpoint(path: Path) -> Path:
    torch.save({"state_dict": {"net.features.0.0.weight": torch.zeros(8, 1, 5, 5)}}, path)
    return path


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.lr=-0.01", "the optimizer refused its settings: Invalid learning rate: -0.01"),
        ("model.dropout=1.5", r"model.dropout must be a number in \[0, 1\), got 1.5"),
        ("model.dropout=-0.1", r"model.dropout must be a number in \[0, 1\), got -0.1"),
        ("scheduler.gamma=0", r"scheduler.gamma must be in \(0, 1\], got 0"),
        ("scheduler=onecycle scheduler.max_lr=-1", "scheduler.max_lr must be a positive number, got -1"),
        ("scheduler=onecycle scheduler.max_lr=0", "scheduler.max_lr must be a positive number, got 0"),
        (
            "scheduler=onecycle scheduler.pct_start=1.5",
            r"the scheduler refused its settings: Expected float between 0 and 1 pct_start, but got 1.5 \(see sch",
        ),
        ("scheduler=onecycle scheduler.div_factor=0", "the scheduler refused its settings: float division by zero"),
        ("scheduler.gamma=1.5", r"scheduler.gamma must be in \(0, 1\], got 1.5"),
        ("data.batch_size=60001", "data.batch_size=60001 is larger than the 60,000 training images"),
        ("data/augment=affine data.augment.degrees=200", r"data.augment.degrees must be in \[0, 180\], got 200"),
        ("scheduler=onecycle scheduler.interval=batch", "scheduler.interval must be epoch or step, got 'batch'"),
        ("model=compact model.net.block1=[8,8,8,8,8,8,8,8,8,8,8,8]", "too many 3x3 convolutions"),
        ("ckpt_path={tmp}/missing.ckpt", "ckpt_path .*missing.ckpt does not exist"),
        # A run folder pasted as it is: the file to give, named in full.
        (
            "ckpt_path={tmp}/earlier",
            r"ckpt_path .*earlier is a folder, not a checkpoint: give ckpt_path=.*earlier/checkp",
        ),
        (
            "ckpt_path={tmp}/earlier/checkpoints",
            r"checkpoints is a folder, not a .*: give ckpt_path=.*earlier/checkpoints/l",
        ),
        ("ckpt_path={tmp}/earlier/metrics.json", "metrics.json is not a checkpoint"),
        ("ckpt_path={tmp}/other_net.ckpt", "other_net.ckpt was made by a different network"),
        ("optimized_metric=foo", "optimized_metric must be one of test/acc, val/acc, val/acc_best, got 'foo'"),
        ("optimized_metric=val/acc", "optimized_metric=val/acc with data.val_size=0 would select on the test set"),
        (
            "data.val_size=5000 optimized_metric=val/acc +trainer.max_steps=100",
            "trainer.max_steps=100 can end the run inside an epoch, whose weights are then never validated",
        ),
    ],
)
def test_bad_values_stop_before_anything_is_written(tmp_path, earlier_run, override, message):
    foreign_checkpoint(tmp_path / "other_net.ckpt")
    before = snapshot(earlier_run)
    cfg = compose_train_config(earlier_run, [*override.format(tmp=tmp_path).split(" "), "logger=tensorboard"])
    with pytest.raises(Exception) as raised:  # a UserError, possibly inside Hydra's InstantiationException
        train(cfg)
    user_error = find_user_error(raised.value)
    assert user_error is not None and re.search(message, str(user_error)), raised.value
    assert snapshot(earlier_run) == before


def test_a_onecycle_warm_up_of_one_step_is_one_clear_error(tmp_path):
    # torch's OneCycleLR divides by zero when pct_start x total_steps is exactly 1 (here 0.25 x 4 steps). The run's
    # length is known only inside fit, once the Trainer holds the data (its logger has started by then).
    overrides = ["scheduler=onecycle", "trainer.max_epochs=1", "trainer.limit_train_batches=4", "logger=csv"]
    with pytest.raises(UserError, match="the scheduler's warm-up would be a single step of the run's 4: train for"):
        train(compose_train_config(tmp_path / "four", overrides))
    five = [*overrides[:2], "trainer.limit_train_batches=5", "trainer.limit_test_batches=1", "logger=csv"]
    train(compose_train_config(tmp_path / "five", five))  # 1.25 steps of warm-up: torch copes


def test_a_data_folder_without_write_permission(tmp_path, monkeypatch):
    # Tests run as root here, for whom permission bits do not stop a write: simulate the refusal.
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    monkeypatch.setattr(data.os, "access", lambda path, mode: False)
    with pytest.raises(UserError, match=f"{tmp_path} is not writable"):
        data.ensure_mnist(tmp_path)

    def refuse(self, content):
        raise PermissionError(13, "Permission denied")

    for gz in (data.BUNDLED_DATA_DIR / "MNIST" / "raw").glob("*.gz"):
        (tmp_path / "MNIST" / "raw" / gz.name).write_bytes(gz.read_bytes())
    monkeypatch.setattr(Path, "write_bytes", refuse)
    with pytest.raises(UserError, match=f"cannot write into {tmp_path / 'MNIST' / 'raw'}"):
        data.ensure_mnist(tmp_path)


def test_predict_on_a_folder_without_images(trained_sweep, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("no digits here")
    ckpt = trained_sweep / "0" / "checkpoints" / "last.ckpt"  # a good checkpoint: only the folder is wrong
    result = run_here("mnist_lightning.predict", f"ckpt_path={ckpt}", f"inputs={folder}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: inputs={folder} holds no images that could be read: put PNG or JPEG digits there"
    )


def test_evaluate_without_a_checkpoint_says_what_to_give(tmp_path):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("evaluate", overrides=[f"paths.output_dir={tmp_path}"])
    with pytest.raises(UserError, match="give the checkpoint to test: ckpt_path=<run>/checkpoints/last.ckpt"):
        evaluate(cfg)


def test_a_valid_warm_up_is_not_refused_by_the_trial_build(tmp_path):
    # The trial build before the data loads uses a stand-in run length; with 100 steps, pct_start=0.01 would be a
    # one-step warm-up there (torch divides by zero), though a real run of thousands of steps is fine.
    from mnist_lightning.run.build import build_module

    module, _ = build_module(compose_train_config(tmp_path, ["scheduler=onecycle", "scheduler.pct_start=0.01"]))
    assert module.hparams.scheduler["pct_start"] == 0.01


def test_a_wrong_checkpoint_path_is_refused_before_the_layer_table_is_printed(tmp_path, caplog):
    cfg = compose_train_config(tmp_path, [f"ckpt_path={tmp_path}/missing.ckpt"])
    with caplog.at_level("INFO"), pytest.raises(UserError, match="missing.ckpt does not exist"):
        train(cfg)
    assert "Total params" not in caplog.text  # the error is the only thing the user reads
