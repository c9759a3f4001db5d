"""A training run's config checks, in one step before anything is built: override types, ranges, combinations.

A single object's values are checked where it is built (the DataModule, the networks, the parameter budget)."""

import difflib
import inspect

import torch
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from mnist_lightning.base.errors import UserError, first_line
from mnist_lightning.base.option_names import shipped_config, value_type_error
from mnist_lightning.base.value_ranges import (
    BATCH_LIMITS,
    batch_limit_error,
    fast_dev_run_error,
    max_epochs_error,
    torch_threads_error,
)
from mnist_lightning.run.precision import PRECISIONS


def check_override_types(cfg: DictConfig) -> None:
    """Refuse a command-line value whose type differs from the value the shipped config has for that key.

    The shipped config is composed again with only the config-group choices of this run (model=compact, ...),
    so each value override is compared with the default it replaces: `seed=abc` or
    `trainer.max_epochs=2.5` stop here in one line instead of deep inside a library.
    """
    if not HydraConfig.initialized() or not GlobalHydra.instance().is_initialized():
        return  # composed by a test or a script, not from the command line
    hydra_cfg = HydraConfig.get()
    choices = hydra_cfg.runtime.choices
    groups, values = [], []
    for override in hydra_cfg.overrides.task:
        key, _, value = override.partition("=")
        bare = key.lstrip("+~")
        if bare in choices:
            groups.append(override)
        elif not key.startswith(("+", "~", "trainer.", "hydra.")):
            # Additions and deletions have no shipped value to compare with; the Trainer's arguments take
            # several types (devices=1 or auto, deterministic=true or warn) and Lightning checks them itself.
            values.append(bare)
    if not values:
        return
    shipped = shipped_config(hydra_cfg.job.config_name, groups)
    for key in values:
        message = value_type_error(key, OmegaConf.select(shipped, key, default=None), OmegaConf.select(cfg, key))
        if message is not None:
            raise UserError(message)


def check_hardware(trainer_cfg: DictConfig) -> None:
    """trainer=gpu or trainer=ddp on a machine without the GPUs: one line, before anything is built or printed
    (Lightning would say "No supported gpu backend found!" through Hydra's instantiation error)."""
    if trainer_cfg.get("accelerator") not in ("gpu", "cuda"):
        return
    devices = trainer_cfg.get("devices", "auto")
    if isinstance(devices, str) and "," in devices:  # "0,1": device indices, as Lightning reads them
        devices = [d for d in devices.split(",") if d.strip()]
    needed = (
        devices
        if isinstance(devices, int) and devices > 0
        else (len(devices) if OmegaConf.is_list(devices) or isinstance(devices, list) else 1)
    )
    found = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if found == 0 and trainer_cfg.get("accelerator") == "gpu" and torch.backends.mps.is_available():
        found = 1  # Apple's GPU: Lightning's "gpu" runs on it
    if found < needed:
        have = "no GPU" if found == 0 else f"{found} GPU{'s' if found > 1 else ''}"
        raise UserError(
            f"trainer.accelerator={trainer_cfg.accelerator} needs {needed} GPU{'s' if needed > 1 else ''} and this "
            f"machine has {have} that torch can use: use trainer=default (the CPU here), trainer=cpu or trainer=ddp_cpu"
        )


def check_test_settings(cfg: DictConfig) -> None:
    """What train and evaluate share: the hardware asked for, torch_threads and the batch limits (one line each,
    where Lightning's or torch's error would come after the layer table, through Hydra's)."""
    check_hardware(cfg.trainer)
    messages = [
        torch_threads_error(cfg.get("torch_threads")),
        fast_dev_run_error(cfg.trainer.get("fast_dev_run", False)),
    ]
    messages += [batch_limit_error(key, OmegaConf.select(cfg, key)) for key in BATCH_LIMITS]
    if message := next((m for m in messages if m), None):
        raise UserError(message)


def check_run_settings(cfg: DictConfig) -> None:
    """The run's own settings: the hardware it asks for, overridden values of the right type, at least one epoch."""
    check_override_types(cfg)
    check_test_settings(cfg)
    if message := max_epochs_error(cfg.trainer.get("max_epochs")):
        raise UserError(message)
    if not isinstance(cfg.seed, int) or isinstance(cfg.seed, bool):
        raise UserError(f"seed must be an integer, got {cfg.seed!r}")
    precision = cfg.trainer.get("precision", "32-true")
    if str(precision) not in PRECISIONS:  # else Lightning's ValueError, wrapped by Hydra, after the layer table
        raise UserError(f"trainer.precision must be one of {', '.join(PRECISIONS[:7])}, got {precision!r}")
    if cfg.get("ckpt_path") is not None and not isinstance(cfg.ckpt_path, str):
        raise UserError(f"ckpt_path must be a file path, got {cfg.ckpt_path!r}")


OPTIMIZABLE_METRICS = ("test/acc", "val/acc", "val/acc_best")


def validates_nothing(cfg: DictConfig) -> bool:
    """trainer.limit_val_batches=0: no validation pass at all, so no val/acc (experiment=fast)."""
    return cfg.trainer.get("limit_val_batches") == 0


def check_train_config(cfg: DictConfig) -> None:
    """Refuse, in one line each, settings that cannot run or would select on the test set."""
    check_run_settings(cfg)
    check_scheduler_settings(cfg)
    check_built_options(cfg)
    check_selection(cfg)


def check_built_options(cfg: DictConfig) -> None:
    """Refuse an option that the class a network, callback, logger or augmentation builds does not take (added with
    +, as in `+logger.mlflow.bogus=1`): the early check knows the config's keys only, and the class's TypeError came
    through Hydra's error after the layer table. Classes that pass on **kwargs (W&B's, TensorBoard's) are not
    checked."""
    nodes = {"data.augment": cfg.data.get("augment")}
    net, path = cfg.model.get("net"), "model.net"
    while isinstance(net, DictConfig):  # a network inside a network (ShiftAveraged's, LinearlyExpanded's), any depth
        nodes[path] = net
        net, path = net.get("net"), f"{path}.net"
    for section in ("callbacks", "logger"):
        for name, node in (cfg.get(section) or {}).items():
            if isinstance(node, DictConfig) and len(node) and "_target_" not in node:  # +logger.mlflow.x=1 alone
                chosen = f"; choose it first, e.g. logger={name}" if section == "logger" else ""
                raise UserError(f"{section}.{name} has settings but nothing to build (no _target_){chosen}")
            nodes[f"{section}.{name}"] = node
    for path, node in nodes.items():
        target = node.get("_target_") if isinstance(node, DictConfig) else None
        if not target:
            continue
        try:
            built = get_object(target)
        except Exception as error:  # noqa: BLE001 - a module or name that cannot be imported (a user's --config-dir)
            reason = first_line(error.__cause__ or error)  # Hydra's error wraps the import's
            raise UserError(f"{path}._target_={target} cannot be imported: {reason}") from error
        parameters = inspect.signature(built).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            continue
        for key in node:
            if not str(key).startswith("_") and key not in parameters:
                close = difflib.get_close_matches(str(key), list(parameters), n=1, cutoff=0.75)
                hint = f": did you mean {path}.{close[0]}?" if close else f" ({', '.join(parameters)})"
                raise UserError(f"{path} ({target.rpartition('.')[2]}) takes no option {key!r}{hint}")


def check_scheduler_settings(cfg: DictConfig) -> None:
    """Refuse schedule settings the chosen scheduler does not take: an experiment's OneCycle settings (max_lr, ...)
    stay in the config when the command line chooses scheduler=none or exponential, which then failed with a
    TypeError after the layer table."""
    node = cfg.get("scheduler")
    if not node:
        return
    target = node.get("_target_")
    parameters = inspect.signature(get_object(target)).parameters if target else {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return  # a user's own scheduler that takes **kwargs: any key may be its own
    extra = [key for key in node if key not in parameters and not key.startswith("_") and key != "interval"]
    if not extra:
        return
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    chosen = f"scheduler={choices.get('scheduler') or 'none'}" if choices else f"the scheduler ({target or 'none'})"
    source = f" (set by experiment={choices['experiment']})" if choices.get("experiment") else ""
    settings = ", ".join(f"scheduler.{key}" for key in extra)
    removal = " ".join(f"~scheduler.{key}" for key in extra)
    them, they = ("them", "they") if len(extra) > 1 else ("it", "it")
    raise UserError(
        f"{chosen} takes no {settings}{source}: remove {them} with {removal}, or choose the scheduler {they} "
        f"belong{'s' if they == 'it' else ''} to"
    )


def check_selection(cfg: DictConfig) -> None:
    """What a run reports and optimizes: a metric it has, never chosen on the test set. A search checks this before
    it opens its study (hydra_plugins/mnist_optuna_sweeper), each run again before it trains."""
    metric, test = cfg.get("optimized_metric", "test/acc"), cfg.get("test", True)
    if metric not in OPTIMIZABLE_METRICS:
        raise UserError(f"optimized_metric must be one of {', '.join(OPTIMIZABLE_METRICS)}, got {metric!r}")
    if metric.startswith("val/") and cfg.data.val_size == 0:
        raise UserError(
            f"optimized_metric={metric} with data.val_size=0 would select on the test set: "
            "hold out validation images, e.g. data.val_size=5000"
        )
    if validates_nothing(cfg) and (not test or metric != "test/acc"):
        raise UserError(
            "trainer.limit_val_batches=0 validates nothing, so there is no val/acc to report or optimize: "
            "set trainer.limit_val_batches=null (experiment=fast turns validation off)"
        )
    max_steps = cfg.trainer.get("max_steps", -1)
    if max_steps not in (-1, None) and metric.startswith("val/"):  # Lightning does not validate a cut epoch
        raise UserError(
            f"trainer.max_steps={max_steps} can end the run inside an epoch, whose weights are then never validated, "
            f"so {metric} would not be the final model's: set trainer.max_epochs (and trainer.limit_train_batches)"
        )
    if not test and cfg.data.val_size == 0:
        raise UserError("test=false with data.val_size=0 would still validate on the test set: set data.val_size")
    if not test and metric == "test/acc":
        raise UserError("test=false leaves no test/acc to optimize: set optimized_metric=val/acc")
