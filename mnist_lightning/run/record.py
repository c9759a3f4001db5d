"""What a run records: metrics.json, the settings that tell a sweep's jobs apart, and how to resume a stopped one."""

import json
import logging
import shlex
from pathlib import Path

import pytorch_lightning as pl
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from mnist_lightning.data.mnist import TEST_SIZE
from mnist_lightning.results.runs import where_stopped
from mnist_lightning.run.callbacks import EpochHistory

log = logging.getLogger(__name__)


def run_settings(cfg: DictConfig) -> dict[str, object]:
    """The seed and the command-line overrides of this run: what tells the jobs of a sweep apart."""
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    # The settings every recipe has, from the resolved config: HPARAMS then fills these cells in every row, also
    # for a run that did not override them (experiment=fast beside a sweep of max_epochs). 0 val_size: val is test.
    core = {
        "experiment": choices.get("experiment") or "none",
        "model": choices.get("model"),
        "seed": cfg.seed,
        "data.val_size": cfg.data.val_size,
        "data.batch_size": cfg.data.get("batch_size"),
        "trainer.max_epochs": cfg.trainer.get("max_epochs"),
        "optimizer.lr": cfg.optimizer.get("lr"),
        "model.dropout": cfg.model.get("dropout"),
    }
    settings: dict[str, object] = {key: value for key, value in core.items() if value is not None}
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        # The value as the config holds it (optimizer.lr=1e-3 is a float there, a string to PyYAML), so a column of
        # HPARAMS has one type; a group choice (model=fast) or an added key is read from the override's text.
        resolved = OmegaConf.select(cfg, key, default=None) if not override.startswith("~") else None
        parsed = resolved if isinstance(resolved, bool | int | float) else (yaml.safe_load(value) if value else None)
        # TensorBoard's HPARAMS take scalars only: a list of widths ("[6,10]"), null or a deletion stay text.
        settings[key] = parsed if isinstance(parsed, (bool, int, float, str)) else (value or "deleted")
    return settings


def run_tags(tags: object) -> list[str]:
    """The config's `tags` as a list of strings: `tags=paper` is one tag (list() made it five letters), and a
    number among them (tags=[reference,2026]) a string, as every tracker takes them."""
    if tags is None:
        return []
    if isinstance(tags, str | int | float):
        return [str(tags)]
    return [str(tag) for tag in tags]


def as_float(value: object) -> float | None:
    return None if value is None else float(value)


def interruption(cfg: DictConfig, trainer: pl.Trainer, output_dir: Path) -> dict:
    """Where a run stopped by Ctrl-C stands, and the command line that resumes it (same overrides, new ckpt_path):
    what metrics.json records under "interrupted", and what the one-line message says."""
    stage = "test" if trainer.state.fn == "test" else "fit"
    where = {"stage": stage, "epoch": trainer.current_epoch + (stage == "fit"), "step": trainer.global_step}
    where["signal"] = "SIGTERM" if trainer.received_sigterm else "SIGINT"  # kill or scancel, else Ctrl-C
    sweeper = HydraConfig.get().sweeper if HydraConfig.initialized() else {}
    if "study_name" in sweeper:  # a trial of an Optuna search: the search resumes as a whole, by its own command
        search = {"study": sweeper.study_name, "storage": sweeper.storage}
        return where | {"checkpoint": None, "resume": None, "search": search}
    last = output_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():  # no epoch finished in this folder: a resumed run can start again from its ckpt_path
        if not cfg.get("ckpt_path"):
            return where | {"checkpoint": None, "resume": None}
        last = Path(cfg.ckpt_path)
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    kept = [o for o in overrides if not o.lstrip("+~").startswith("ckpt_path=")]
    command = shlex.join(["python", "-m", "mnist_lightning.train", *kept, f"ckpt_path={last.resolve()}"])
    return where | {"checkpoint": str(last), "resume": command}


def interrupted_message(stopped: dict) -> str:
    """The one line a Ctrl-C'd run ends with, from `interruption`'s record."""
    where = where_stopped(stopped)
    if stopped.get("search"):  # the trial's own command would start another study, or be refused by this one
        study = f"study {stopped['search']['study']!r} in {stopped['search']['storage']}"
        return (
            f"{where} of a trial of the Optuna search in {study}; run the search's command again to go on: this "
            "trial is marked failed, the finished ones are kept"
        )
    if stopped["resume"] is None:
        return f"{where}, before any epoch finished: nothing to resume"
    return f"{where}; the last finished epoch is in {stopped['checkpoint']}; resume with: {stopped['resume']}"


def write_metrics(output_dir: Path, metrics: dict) -> None:
    """metrics.json through a file beside it, renamed: a kill while writing leaves the old one or none, never half."""
    output_dir.mkdir(parents=True, exist_ok=True)
    partial = output_dir / "metrics.json.partial"
    partial.write_text(json.dumps(metrics, indent=2) + "\n")
    partial.replace(output_dir / "metrics.json")


def final_metrics(trainer: pl.Trainer, history: EpochHistory, output_dir: Path, test: dict) -> dict:
    """The results of a finished run as metrics.json has them (without the timings and the record's header)."""
    best = history.best()
    best_ckpt = next((c.best_model_path for c in trainer.checkpoint_callbacks if c.monitor), None)
    last_ckpt = output_dir / "checkpoints" / "last.ckpt"  # none after fast_dev_run, which saves nothing
    return {
        "test/acc": test.get("test/acc"),
        "test/loss": test.get("test/loss"),
        "val/acc": history.rows[-1]["val/acc"] if history.rows else None,
        "val/acc_best": best["val/acc"] if best else None,  # on the test set when val_is_test
        "epoch_of_val_acc_best": best["epoch"] if best else None,
        "checkpoints": {"last": str(last_ckpt) if last_ckpt.is_file() else None, "best": best_ckpt or None},
        "test/images": as_float(trainer.callback_metrics.get("test/images")) if test else None,
        "epochs": trainer.current_epoch,
        "history": history.rows,
    }


def log_result(metrics: dict, output_dir: Path) -> None:
    """The run's last line: its test accuracy (or held-out accuracy with test=false) and where metrics.json is."""
    scored = "test" if metrics["test/acc"] is not None else "val"
    batches = metrics.get("fast_dev_run")
    if batches and metrics[f"{scored}/acc"] is not None:  # a few batches: not a result, and not to be read as one
        on = "one batch" if batches == 1 else f"{batches} batches"
        accuracy = f"{scored} accuracy {100 * metrics[f'{scored}/acc']:.2f}% on {on} (fast_dev_run: a smoke test)"
        log.info(f"{accuracy}; metrics in {output_dir / 'metrics.json'}")
    elif metrics["test/acc"] is not None:
        images = metrics.get("test/images")
        part = f" on {images:,.0f} of the {TEST_SIZE:,} test images" if images and images < TEST_SIZE else ""
        log.info(f"test accuracy {100 * metrics['test/acc']:.2f}%{part}; metrics in {output_dir / 'metrics.json'}")
    elif metrics["val/acc"] is not None:
        accuracy = f"val accuracy {100 * metrics['val/acc']:.2f}% (no test: test=false)"
        log.info(f"{accuracy}; metrics in {output_dir / 'metrics.json'}")
