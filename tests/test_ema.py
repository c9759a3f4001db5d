"""experiment=nano_ema: the moving average of the weights is what a run validates, tests, saves and evaluates, also
when a finished run is resumed (its final test again), and a resume keeps the averaging it was trained with."""

import json
import re

import pytest
import torch
from conftest import assert_clear_error, compose_train_config, run_here

from mnist_lightning.base.errors import UserError
from mnist_lightning.run.callbacks import EMAWeightAveraging
from mnist_lightning.run.checkpoints import check_same_averaging, run_setting_differences

TRAIN, EVALUATE = "mnist_lightning.train", "mnist_lightning.evaluate"
# A decay of 0.9 moves the average within 40 steps (at 0.999 it would still be about the first weights), so the
# average and the trained weights score differently; 10 test batches of 500 keep each test short.
SHORT = ["experiment=nano_ema", "callbacks.ema.decay=0.9", "trainer.max_epochs=2", "trainer.limit_train_batches=20",
         "trainer.limit_val_batches=2", "trainer.limit_test_batches=10", "logger=none", "torch_threads=1"]  # fmt: skip


def evaluated(ckpt, cwd) -> tuple[float, float]:
    """evaluate's printed (accuracy in %, loss) on the tests' 10 batches."""
    result = run_here(EVALUATE, f"ckpt_path={ckpt}", "trainer.limit_test_batches=10", "torch_threads=1", cwd=cwd)
    assert result.returncode == 0, result.stderr
    accuracy, loss = re.search(r"test accuracy: ([\d.]+)% \(loss ([\d.]+)\)", result.stdout).groups()
    return float(accuracy), float(loss)


def printed(metrics: dict) -> tuple[float, float]:
    return round(100 * metrics["test/acc"], 2), round(metrics["test/loss"], 4)


def test_the_average_is_tested_saved_and_evaluated_also_when_a_finished_run_is_resumed(tmp_path):
    result = run_here(TRAIN, *SHORT, f"hydra.run.dir={tmp_path}/a", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trained = json.loads((tmp_path / "a" / "metrics.json").read_text())
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    average, raw = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert max((average[k].float() - raw[k].float()).abs().max().item() for k in average) > 1e-2

    # The run's test scored the average, which its checkpoint holds as its weights (evaluate reads those) ...
    assert evaluated(last, tmp_path) == printed(trained)
    # ... and not the weights it trained: they score otherwise.
    raw_only = {k: v for k, v in checkpoint.items() if k not in ("current_model_state", "averaging_state")}
    torch.save(raw_only | {"state_dict": raw}, tmp_path / "raw.ckpt")
    assert evaluated(tmp_path / "raw.ckpt", tmp_path)[1] != printed(trained)[1]

    # Resumed with no epoch left (the command a run stopped in its final test prints): Lightning skips its end of
    # training, where it copies the average into the model, and this tested the trained weights.
    # Resumed as a config of 0.4 would name it (Lightning's own class, which the project now wraps): the wrapper.
    lightning_class = "callbacks.ema._target_=pytorch_lightning.callbacks.EMAWeightAveraging"
    again = run_here(TRAIN, *SHORT, lightning_class, f"ckpt_path={last}", f"hydra.run.dir={tmp_path}/b", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    resumed = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert (resumed["test/acc"], resumed["test/loss"]) == (trained["test/acc"], trained["test/loss"])

    # Dropping the average on a resume trained on from the average, as if it were the trained weights: refused.
    dropped = [o for o in SHORT if not o.startswith("callbacks.ema")] + ["~callbacks.ema", "trainer.max_epochs=3"]
    assert_clear_error(
        run_here(TRAIN, *dropped, f"ckpt_path={last}", f"hydra.run.dir={tmp_path}/c", cwd=tmp_path),
        "was trained with a moving average of its weights and this run has none",
    )
    # Another decay is allowed, and named among the settings that changed; the class a run of 0.4 named (Lightning's
    # own, before the project wrapped it) is the same setting.
    config = tmp_path / "a" / ".hydra" / "config.yaml"
    config.write_text(
        config.read_text().replace(
            "mnist_lightning.run.callbacks.EMAWeightAveraging", "pytorch_lightning.callbacks.EMAWeightAveraging"
        )
    )
    now = compose_train_config(tmp_path / "d", [o for o in SHORT if o != "callbacks.ema.decay=0.9"])
    assert run_setting_differences(last, now) == ["callbacks.ema.decay: 0.9 -> 0.999"]
    now = compose_train_config(tmp_path / "d", [*SHORT, lightning_class])  # the old class on this side too
    assert run_setting_differences(last, now) == []


def test_averaging_added_on_a_resume_or_out_of_range_is_refused(tmp_path):
    with_average = compose_train_config(tmp_path, ["experiment=nano_ema"])
    plain = compose_train_config(tmp_path, ["experiment=nano"])
    check_same_averaging({"current_model_state": {}}, with_average, "x.ckpt")
    check_same_averaging({}, plain, "x.ckpt")
    with pytest.raises(UserError, match=r"x.ckpt was trained without a moving average .* adds one \(callbacks.ema\)"):
        check_same_averaging({}, with_average, "x.ckpt")
    with pytest.raises(
        UserError, match="x.ckpt was trained with a moving average of its weights and this run has none"
    ):
        check_same_averaging({"current_model_state": {}}, plain, "x.ckpt")
    # A user's config that builds the callback itself: its values are checked where it is built too.
    for settings, message in [
        ({"decay": 1.0}, r"callbacks.ema.decay must be a number in \[0, 1\), got 1.0"),
        ({"decay": -0.5}, r"callbacks.ema.decay must be a number in \[0, 1\), got -0.5"),
        ({"update_every_n_steps": 0}, "callbacks.ema.update_every_n_steps must be a positive integer, got 0"),
    ]:
        with pytest.raises(UserError, match=message):
            EMAWeightAveraging(**settings)
