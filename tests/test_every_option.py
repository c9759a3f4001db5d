"""Every config option the project ships is composed and run for a few steps, with no traceback in its output."""

import pytest
import torch
from conftest import CONF_DIR, compose_train_config

from mnist_lightning.train import train

# Each group's options are the files on disk, so a new option is run here without anyone adding it.
GROUPS = ("data", "data/augment", "model", "optimizer", "scheduler", "trainer", "logger", "callbacks", "paths",
          "experiment", "hparams_search", "hydra", "hydra/launcher")  # fmt: skip
ALL_OPTIONS = [(group, path.stem) for group in GROUPS for path in sorted((CONF_DIR / group).glob("*.yaml"))]
# Options that cannot run in this process, and the test that runs them (or why none can run here).
ELSEWHERE = {
    ("trainer", "ddp_cpu"): "tests/test_ddp.py runs it (Lightning starts one process per rank)",
    ("hparams_search", "optuna"): "tests/test_sweeps.py runs an Optuna study",
    ("hparams_search", "optuna_onecycle"): "tests/test_sweeps.py runs it with experiment=fast",
    ("hparams_search", "optuna_widths"): "tests/test_search.py runs a search (its trials never score the test set)",
    ("hydra", "default"): "every command-line run uses it",
    ("hydra", "tool"): "evaluate and predict use it (tests/test_evaluate_predict.py)",
    ("hydra/launcher", "submitit_slurm"): "tests/test_cluster.py runs arrays, requeue and DDP on a local SLURM",
    ("hydra/launcher", "submitit_local"): "tests/test_cluster.py runs a sweep with it (its jobs are processes)",
    ("logger", "mlflow"): "tests/test_tracking.py reads a run back from MLflow (logger=many)",
    ("logger", "many"): "tests/test_tracking.py runs it into a tracking store of its own",
    ("logger", "wandb"): "tests/test_tracking.py reads an offline W&B run back (system: wandb starts a service)",
}
NEEDS_CUDA = {("trainer", "gpu"): 1, ("trainer", "ddp"): 2}  # GPUs each needs
FEW_STEPS = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
             "trainer.limit_test_batches=1"]  # fmt: skip


def test_every_shipped_option_is_run_here_or_named_with_the_test_that_runs_it():
    assert set(ELSEWHERE) <= set(ALL_OPTIONS)  # no stale names
    assert len(ALL_OPTIONS) > 25


@pytest.mark.parametrize(("group", "option"), [o for o in ALL_OPTIONS if o not in ELSEWHERE])
def test_option_runs_a_few_steps_without_a_traceback(tmp_path, capfd, group, option):
    gpus = NEEDS_CUDA.get((group, option), 0)
    if torch.cuda.device_count() < gpus:
        pytest.skip(f"{group}={option} needs {gpus} CUDA GPU(s)")
    # TensorBoard's events and test figures take about 2 s a run: only the logger and callback options keep them.
    quiet = [] if group in ("logger", "callbacks") else ["logger=none"]
    metrics = train(compose_train_config(tmp_path, [f"{group}={option}", *FEW_STEPS, *quiet]))
    output = "".join(capfd.readouterr())
    assert "Traceback" not in output, output
    assert metrics["status"] == "ok" and metrics["train/images"] > 0 and metrics["test/images"] == 500
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "checkpoints" / "last.ckpt").exists()
