"""python -m mnist_lightning.train: compose the config -> instantiate -> fit -> test -> write metrics.json."""

import json
import logging
import os
import shlex
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from mnist_lightning.callbacks import Diverged, DivergenceGuard, EpochHistory
from mnist_lightning.checkpoints import check_same_network, read_checkpoint
from mnist_lightning.diagnostics import log_hparams
from mnist_lightning.distributed import wait_for_other_ranks
from mnist_lightning.errors import Interrupted, UserError, check_group_choices, exit_on_user_error
from mnist_lightning.locations import CONF_DIR
from mnist_lightning.module import MNISTLitModule
from mnist_lightning.provenance import provenance
from mnist_lightning.settings import check_run_settings
from mnist_lightning.summary import OverBudget, check_param_budget, format_layer_table, layer_table

log = logging.getLogger(__name__)
# Under DDP Lightning suggests sync_dist=True for epoch-level logs; ours come from torchmetrics' compute(),
# which has already gathered every process's state, so syncing again would only average equal numbers.
warnings.filterwarnings("ignore", message=".*sync_dist=True.*when logging on epoch level.*")


def build_module(cfg: DictConfig, val_is_test: bool = True, verbose: bool = True) -> tuple[MNISTLitModule, int]:
    """The network from `cfg.model.net`, checked against `cfg.model.max_params`, wrapped in the LightningModule."""
    net = instantiate(cfg.model.net)
    params = check_param_budget(net, cfg.model.max_params)
    if verbose and rank_zero_only.rank == 0:  # DDP runs this function once per process
        log.info(format_layer_table(layer_table(net), params))
    optimizer_cfg = OmegaConf.to_container(cfg.optimizer, resolve=True)
    # scheduler=none composes to an empty node, which is falsy: test for None, not truth.
    scheduler_node = cfg.get("scheduler")
    scheduler_cfg = OmegaConf.to_container(scheduler_node, resolve=True) if scheduler_node is not None else {}
    interval = scheduler_cfg.pop("interval", "epoch")  # ours, not the scheduler's: when Lightning steps it
    if interval not in ("epoch", "step"):
        raise UserError(f"scheduler.interval must be epoch or step, got {interval!r}")
    try:  # a trial build, so a bad lr or gamma stops the run now rather than after data loading
        trial = instantiate(optimizer_cfg)(params=net.parameters())
        if scheduler_cfg:
            instantiate(scheduler_cfg)(optimizer=trial, **({"total_steps": 100} if interval == "step" else {}))
    except ValueError as error:
        raise UserError(f"the optimizer refused its settings: {error} (see optimizer.* in the config)") from error
    module = MNISTLitModule(
        net=net,
        optimizer=optimizer_cfg,
        scheduler=scheduler_cfg or None,
        scheduler_interval=interval,
        val_is_test=val_is_test,
        net_config=OmegaConf.to_container(cfg.model.net, resolve=True),
        channels_last=cfg.model.get("channels_last", False),
        compile=cfg.model.get("compile", False),
        label_smoothing=check_label_smoothing(cfg.model.get("label_smoothing", 0.0)),
    )
    return module, params


def check_label_smoothing(value: float) -> float:
    """`model.label_smoothing`, refused with one line unless it is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise UserError(f"model.label_smoothing must be a number in [0, 1), got {value!r}")
    return value


def validates_nothing(cfg: DictConfig) -> bool:
    """trainer.limit_val_batches=0: no validation pass at all, so no val/acc (experiment=fast)."""
    return cfg.trainer.get("limit_val_batches") == 0


def build_trainer(cfg: DictConfig, extra_callbacks: list[pl.Callback], val_is_test: bool) -> pl.Trainer:
    """The Trainer from `cfg.trainer`, with the configured callbacks and loggers."""
    callbacks_cfg = dict(cfg.get("callbacks") or {})
    # No "best" checkpoint when validation scores the test set (it would be a model chosen on it), or when
    # nothing is validated at all (experiment=fast).
    if val_is_test or validates_nothing(cfg):
        callbacks_cfg.pop("best_checkpoint", None)
    callbacks = [instantiate(c) for c in callbacks_cfg.values()] + extra_callbacks
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def torch_threads(cfg: DictConfig) -> int:
    """`torch_threads` if set; else the cores shared among the processes running at once, so none oversubscribe.

    Those processes are the parallel jobs of hydra/launcher=joblib times the DDP processes on the CPU.
    """
    if cfg.get("torch_threads"):
        return cfg.torch_threads
    processes = 1
    n_jobs = HydraConfig.get().launcher.get("n_jobs") if HydraConfig.initialized() else None
    if n_jobs is not None:
        processes *= (os.cpu_count() or 1) if n_jobs < 0 else n_jobs  # joblib: -1 means one job per core
    trainer = cfg.get("trainer") or {}
    if trainer.get("accelerator") == "cpu" and "ddp" in str(trainer.get("strategy", "")):
        processes *= int(trainer.get("devices", 1))
    if processes == 1:
        return torch.get_num_threads()
    return max(1, (os.cpu_count() or 1) // processes)


def run_settings(cfg: DictConfig) -> dict[str, object]:
    """The seed and the command-line overrides of this run: what tells the jobs of a sweep apart."""
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    settings: dict[str, object] = {"seed": cfg.seed, "data.val_size": cfg.data.val_size}  # 0: val is the test set
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        parsed = yaml.safe_load(value) if value else None  # "0.1" -> 0.1, so TensorBoard sorts numbers
        # TensorBoard's HPARAMS take scalars only: a list of widths ("[6,10]"), null or a deletion stay text.
        settings[key] = parsed if isinstance(parsed, (bool, int, float, str)) else (value or "deleted")
    return settings


def _as_float(value: object) -> float | None:
    return None if value is None else float(value)


OPTIMIZABLE_METRICS = ("test/acc", "val/acc", "val/acc_best")


def interrupted_message(cfg: DictConfig, trainer: pl.Trainer, output_dir: Path) -> str:
    """Where a run stopped by Ctrl-C stands, and the command line that resumes it: same overrides, new ckpt_path."""
    where = "in the final test" if trainer.state.fn == "test" else f"in epoch {trainer.current_epoch + 1}"
    last = output_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():  # no epoch finished in this folder: a resumed run can start again from its ckpt_path
        if not cfg.get("ckpt_path"):
            return f"{where}, before any epoch finished: nothing to resume"
        last = Path(cfg.ckpt_path)
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    kept = [o for o in overrides if not o.lstrip("+~").startswith("ckpt_path=")]
    command = shlex.join(["python", "-m", "mnist_lightning.train", *kept, f"ckpt_path={last.resolve()}"])
    return f"{where}; the last finished epoch is in {last}; resume with: {command}"


def write_metrics(output_dir: Path, metrics: dict) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


def train(cfg: DictConfig, callbacks: Sequence[pl.Callback] = ()) -> dict:
    """Fit and test the configured experiment; return (and write to the run folder) its metrics.

    `callbacks` are added to the configured ones: a way for tests and scripts to watch a run.
    """
    check_run_settings(cfg)
    if cfg.get("optimized_metric", "test/acc") not in OPTIMIZABLE_METRICS:
        choices = ", ".join(OPTIMIZABLE_METRICS)
        raise UserError(f"optimized_metric must be one of {choices}, got {cfg.optimized_metric!r}")
    if cfg.get("optimized_metric", "").startswith("val/") and cfg.data.val_size == 0:
        raise UserError(
            f"optimized_metric={cfg.optimized_metric} with data.val_size=0 would select on the test set: "
            "hold out validation images, e.g. data.val_size=5000"
        )
    if validates_nothing(cfg) and (not cfg.get("test", True) or cfg.get("optimized_metric", "test/acc") != "test/acc"):
        raise UserError(
            "trainer.limit_val_batches=0 validates nothing, so there is no val/acc to report or optimize: "
            "set trainer.limit_val_batches=null (experiment=fast turns validation off)"
        )
    if not cfg.get("test", True) and cfg.data.val_size == 0:
        raise UserError("test=false with data.val_size=0 would still validate on the test set: set data.val_size")
    if not cfg.get("test", True) and cfg.get("optimized_metric", "test/acc") == "test/acc":
        raise UserError("test=false leaves no test/acc to optimize: set optimized_metric=val/acc")
    torch.set_num_threads(torch_threads(cfg))
    started_from = provenance()  # now, not after training: the tree may change while a long run trains
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    datamodule = instantiate(cfg.data)
    module, params = build_module(cfg, val_is_test=datamodule.val_is_test)
    if cfg.get("ckpt_path"):  # check it now: Lightning would fail only after setting everything up
        check_same_network(read_checkpoint(cfg.ckpt_path, cfg.trust_checkpoint), module, cfg.ckpt_path)
    history = EpochHistory()
    trainer = build_trainer(cfg, [history, DivergenceGuard(), *callbacks], datamodule.val_is_test)
    record = {  # what metrics.json says however the run ends
        "status": "ok",
        "params": params,
        "seed": cfg.seed,
        "val_is_test": datamodule.val_is_test,
        "provenance": started_from,
        "config": OmegaConf.to_container(cfg, resolve=True),
    }

    start = time.perf_counter()
    try:
        # Weights-only loading of a resumed checkpoint: it holds plain data only (see checkpoints.py).
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=not cfg.trust_checkpoint)
        train_seconds = time.perf_counter() - start
        train_images = _as_float(trainer.callback_metrics.get("train/images"))  # testing resets callback_metrics
        # The final weights, not the best checkpoint: the figure we report is final-epoch test accuracy.
        # test=false (a search trial): the test set is never scored, so nothing can be chosen on it.
        test = trainer.test(module, datamodule=datamodule, verbose=False)[0] if cfg.get("test", True) else {}
        test_seconds = time.perf_counter() - start - train_seconds
    except Diverged as diverged:
        if trainer.is_global_zero:
            failure = {"epoch": diverged.epoch, "step": diverged.step, "loss": str(diverged.loss)}
            write_metrics(output_dir, record | {"status": "diverged", "diverged": failure, "history": history.rows})
        raise
    except SystemExit:  # Lightning turns Ctrl-C into exit(1) after a graceful shutdown
        if not trainer.interrupted:
            raise
        raise Interrupted(interrupted_message(cfg, trainer, output_dir)) from None

    best = history.best()
    best_ckpt = next((c.best_model_path for c in trainer.checkpoint_callbacks if c.monitor), None)
    metrics = record | {
        "test/acc": test.get("test/acc"),
        "test/loss": test.get("test/loss"),
        "val/acc": history.rows[-1]["val/acc"] if history.rows else None,
        "val/acc_best": best["val/acc"] if best else None,  # on the test set when val_is_test
        "epoch_of_val_acc_best": best["epoch"] if best else None,
        "checkpoints": {"last": str(output_dir / "checkpoints" / "last.ckpt"), "best": best_ckpt or None},
        "train/images": train_images,
        "test/images": _as_float(trainer.callback_metrics.get("test/images")) if test else None,
        "torch_threads": torch.get_num_threads(),
        "epochs": trainer.current_epoch,
        "train_seconds": round(train_seconds, 2),
        "test_seconds": round(test_seconds, 2) if test else None,  # the final test: time to accuracy is the sum
        "history": history.rows,
    }
    final = {name: metrics[name] for name in ("test/acc", "test/loss", "val/acc_best") if metrics[name] is not None}
    log_hparams(trainer, run_settings(cfg), final)
    if trainer.is_global_zero:
        wait_for_other_ranks(trainer)  # a run is ok only when every process of it is
        write_metrics(output_dir, metrics)
        if test:
            log.info(f"test accuracy {100 * metrics['test/acc']:.2f}%; metrics in {output_dir / 'metrics.json'}")
        elif metrics["val/acc"] is not None:
            log.info(f"val accuracy {100 * metrics['val/acc']:.2f}% (no test: test=false); metrics in {output_dir}")
    return metrics


def log_lightning_through_hydra() -> None:
    """Send Lightning's messages through the handlers Hydra set up, so train.log holds them too.

    Lightning gives its loggers a console handler of their own when it is imported before logging is configured.
    """
    for name in ("pytorch_lightning", "lightning_fabric"):
        library_log = logging.getLogger(name)
        library_log.handlers.clear()
        library_log.propagate = True


def skip_over_budget(cfg: DictConfig, over: OverBudget) -> float:
    """A sweep's trial whose network is over model.max_params: recorded as skipped, never trained.

    The sweeper is told the worst accuracy there is, so Optuna's TPE learns to leave such widths alone.
    """
    log.warning(f"skipped, not trained: {over}")
    record = {"status": "over_budget", "params": over.params, "max_params": over.max_params, "seed": cfg.seed}
    write_metrics(Path(cfg.paths.output_dir), record | {"config": OmegaConf.to_container(cfg, resolve=True)})
    return 0.0


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns `optimized_metric` so a sweeper such as Optuna can maximize it."""
    log_lightning_through_hydra()
    try:
        return train(cfg)[cfg.optimized_metric]
    except OverBudget as over:  # in a search, the next trial goes on; a single run stops with the one-line error
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        return skip_over_budget(cfg, over)
    except Diverged as diverged:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        # In a sweep the other jobs go on: this one is marked diverged in its metrics.json (and the report),
        # and a sweeper such as Optuna is told the worst accuracy there is.
        print(f"error: {diverged}", file=sys.stderr)
        return 0.0


if __name__ == "__main__":
    check_group_choices(sys.argv[1:])
    main()
