"""The budgeted architecture search (hparams_search=optuna_widths): over-budget trials skipped, test set untouched."""

import json

import optuna
import pytest
import yaml
from conftest import CONF_DIR, compose_train_config, run_here
from hydra import compose, initialize_config_dir
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import mnist_lightning.data.datamodule
from mnist_lightning.base.errors import UserError
from mnist_lightning.model.budget import OverBudget
from mnist_lightning.report import report
from mnist_lightning.train import train

FEW_STEPS = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1"]


def test_the_search_space_is_the_compact_widths_scored_on_held_out_images():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=micro", "hparams_search=optuna_widths"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert {"model.net.block1.0", "model.net.block2.2", "model.net.transition", "model.net.separable"} <= set(params)
    assert cfg.optimized_metric == "val/acc" and cfg.data.val_size == 5000 and cfg.test is False
    assert cfg.model.max_params == 4000  # the budget is the model config's own


def test_a_search_trial_trains_and_validates_without_ever_loading_the_test_images(tmp_path, monkeypatch, caplog):
    splits = []
    load = mnist_lightning.data.datamodule.load_normalized

    def recording_load(data_dir, train):
        splits.append("train" if train else "test")
        return load(data_dir, train)

    monkeypatch.setattr(mnist_lightning.data.datamodule, "load_normalized", recording_load)
    with caplog.at_level("INFO"):
        metrics = train(
            compose_train_config(tmp_path, ["experiment=micro", "hparams_search=optuna_widths", *FEW_STEPS])
        )
    assert splits == ["train"]
    assert f"(no test: test=false); metrics in {tmp_path / 'metrics.json'}" in caplog.text  # the file, as with a test
    assert metrics["test/acc"] is None and metrics["test/images"] is None and 0 < metrics["val/acc"] <= 1
    assert metrics["status"] == "ok" and metrics["train/images"] > 0


def test_skipping_the_test_needs_held_out_validation_and_another_metric(tmp_path):
    with pytest.raises(UserError, match="test=false with data.val_size=0"):
        train(compose_train_config(tmp_path, ["test=false", *FEW_STEPS]))
    with pytest.raises(UserError, match="test=false leaves no test/acc to optimize"):
        train(compose_train_config(tmp_path, ["test=false", "data.val_size=5000", *FEW_STEPS]))


def test_a_search_skips_over_budget_trials_before_they_train_and_goes_on(tmp_path):
    sweep = tmp_path / "search"
    # With the search's fixed sampler seed, these 4 trials give widths both under and over the 4,000 budget.
    args = ["experiment=micro", "hparams_search=optuna_widths", "hydra.sweeper.n_trials=4", "logger=none", *FEW_STEPS]
    result = run_here("mnist_lightning.train", *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = {job: json.loads((sweep / job / "metrics.json").read_text()) for job in ("0", "1", "2", "3")}
    skipped = [job for job, m in trials.items() if m["status"] == "over_budget"]
    trained = [job for job, m in trials.items() if m["status"] == "ok"]
    assert skipped and trained and len(skipped) + len(trained) == 4
    for job in skipped:  # over the budget, and nothing of a training run: no history, no checkpoint
        assert trials[job]["params"] > trials[job]["max_params"] == 4000 and "history" not in trials[job]
        assert not (sweep / job / "checkpoints").exists()
    for job in trained:
        assert trials[job]["params"] <= 4000 and trials[job]["test/acc"] is None and trials[job]["val/acc"] > 0
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(trials[job]["val/acc"] for job in trained)
    assert report(sweep).count("over budget, not trained") == len(skipped)
    for job in skipped:  # said as it is, and marked in the study (the sampler is told 0.0: it learns to avoid them)
        assert f"trial {job} over budget (model.max_params), not trained" in result.stdout
    study = optuna.load_study(study_name="mnist_widths", storage=f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}")
    assert sorted(str(t.number) for t in study.trials if t.user_attrs.get("status") == "over_budget") == skipped
    # Every network over the budget: none trained, so none is the best (0.0 was reported as the best trial before).
    tiny = ["model.max_params=500", "hydra.sweeper.study_name=tiny", "hydra.sweeper.n_trials=2"]
    result = run_here("mnist_lightning.train", *args, *tiny, f"hydra.sweep.dir={tmp_path / 'tiny'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no trial trained: every network was over model.max_params" in result.stdout + result.stderr
    assert "best: trial" not in result.stdout and not (tmp_path / "tiny" / "optimization_results.yaml").exists()


def test_a_run_with_a_list_of_widths_on_the_command_line_finishes_and_logs_it(tmp_path):
    # TensorBoard's HPARAMS refuse lists: the run used to fail after training, with no metrics.json.
    args = ["model=tiny", "model.net.block1=[6,10]", "model.net.transition=6", *FEW_STEPS, "hydra.run.dir=run"]
    result = run_here("mnist_lightning.train", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["config"]["model"]["net"]["block1"] == [6, 10]
    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["model.net.block1"].string_value == "[6,10]" and hparams["model.net.transition"].number_value == 6


def test_an_over_budget_network_stops_before_any_data_is_loaded(tmp_path, monkeypatch):
    splits = []
    monkeypatch.setattr(
        mnist_lightning.data.datamodule, "load_normalized", lambda data_dir, train: splits.append(train)
    )
    with pytest.raises(OverBudget, match="3,934 parameters, over the budget model.max_params=3,000"):
        train(compose_train_config(tmp_path, ["experiment=micro", "model.max_params=3000", *FEW_STEPS]))
    assert splits == [] and not (tmp_path / "checkpoints").exists()
