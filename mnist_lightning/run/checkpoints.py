"""Checkpoints: read the ones a user points at (one clear error when wrong), and write them atomically."""

import inspect
import os
import pickle
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class, get_object, instantiate
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint, WeightAveraging
from pytorch_lightning.plugins.io import TorchCheckpointIO

from mnist_lightning.base.checkpoint_path import checkpoint_path_error
from mnist_lightning.base.errors import UserError
from mnist_lightning.base.training_settings import is_training_setting
from mnist_lightning.model.lit_module import MNISTLitModule

TRUST_HINT = (
    "if it is a checkpoint you made yourself with an earlier version of this project, add trust_checkpoint=true"
)


def unsafe_globals(path: Path) -> list[str]:
    """The Python objects beyond tensors and plain data that unpickling `path` would build (found without building)."""
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a torch zip file at all
        return []


def read_checkpoint(ckpt_path: str | Path, trust: bool = False) -> dict:
    """The checkpoint's contents, or a UserError saying why `ckpt_path` is not one of ours.

    Opened with torch's weights-only unpickler, which builds tensors and plain data only: a checkpoint is a
    file people download and pass around, and the full unpickler would run any code a file names. `trust`
    (trust_checkpoint=true) opens a file the user vouches for with the full unpickler.
    """
    # Checked as given: Path("") would be the working folder, "a folder" where the value is empty
    if message := checkpoint_path_error(ckpt_path):  # empty, a folder, nothing there, an exported .onnx
        raise UserError(message)
    path = Path(ckpt_path)
    found = [] if trust else unsafe_globals(path)  # named in the error; the loader below refuses them anyway
    named = f" ({', '.join(found[:3])})" if found else ""
    refused = f"{path} was not opened: it holds Python objects{named}, not only weights and plain data"
    if found:
        raise UserError(f"{refused}, and opening it could run code; {TRUST_HINT}")
    try:
        # A trusted file may pickle objects by their module of before 0.5.0 (0.1 stored functools.partial objects).
        extra = {} if not trust else {"pickle_module": MovedModulesPickle}
        checkpoint = torch.load(path, map_location="cpu", weights_only=not trust, **extra)
    except pickle.UnpicklingError as error:
        if "Unsupported global" in str(error):  # the weights-only loader met an object it does not build
            raise UserError(f"{refused}, and opening it could run code; {TRUST_HINT}") from error
        raise UserError(f"{path} is not a checkpoint (UnpicklingError): give a .ckpt file from a run") from error
    except Exception as error:
        raise UserError(f"{path} is not a checkpoint ({type(error).__name__}): give a .ckpt file from a run") from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise UserError(f"{path} is not a Lightning checkpoint of this project (no state_dict)")
    return checkpoint


def check_same_network(checkpoint: dict, module: torch.nn.Module, path: str | Path) -> None:
    """Refuse a checkpoint whose weights do not fit `module` (another network, or other sizes)."""
    expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in checkpoint["state_dict"].items()}
    if expected != found:
        differing = sorted(set(expected.items()) ^ set(found.items()))
        chosen = run_choices(path)
        raise UserError(
            f"{path} was made by a different network ({len(differing)} weights differ, e.g. {differing[0][0]}): "
            f"use the model config it was trained with{f' (its run had {chosen})' if chosen else ''}"
        )


def run_choices(ckpt_path: str | Path) -> str:
    """The network choices of the run that wrote `ckpt_path` (experiment=, model= and model.* overrides), as its run
    folder's .hydra/overrides.yaml holds them; "" when the file is gone."""
    overrides = Path(ckpt_path).parent.parent / ".hydra" / "overrides.yaml"
    try:
        words = [str(word) for word in OmegaConf.load(overrides)]
    except Exception:  # noqa: BLE001 - no folder, or not a list: the message goes without it
        return ""
    chosen = [word for word in words if word.lstrip("+").startswith(("experiment=", "model=", "model."))]
    return " ".join(chosen) or "the default model"


def check_epochs_left(checkpoint: dict, path: str | Path, max_epochs: int | None) -> None:
    """Refuse to resume with a trainer.max_epochs below the epochs the checkpoint has trained: Lightning refuses most
    of these only after its whole set-up (a MisconfigurationException), and one epoch below it starts and ends at once.
    Equal is allowed: the run trains nothing more and tests the checkpoint."""
    progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("current", {})
    epoch = checkpoint.get("epoch")
    done = progress.get("processed", epoch + 1 if isinstance(epoch, int) else None)  # an epoch's end counts it
    if not isinstance(done, int) or max_epochs in (None, -1) or done <= max_epochs:
        return
    raise UserError(
        f"{path} has trained {done} epochs, more than trainer.max_epochs={max_epochs}: to train on from it, "
        f"give trainer.max_epochs above {done}"
    )


# What a checkpoint's stored configs may name as `_target_` without trust_checkpoint=true: the project's
# networks and schedule, and torch's optimizers and schedulers. Any other callable (os.system, ...) would run
# when the config is instantiated, however safely the file itself was unpickled.
# A name is safe only as a module's own attribute (module.Name): Hydra resolves every dotted part, so a prefix
# check would also pass `mnist_lightning.model.nets.torch.os.system`, through the modules these import.
SAFE_TARGETS = (
    "mnist_lightning.model.nets",
    "mnist_lightning.model.expansion",
    "mnist_lightning.model.lit_module",
    "torch.optim",
    "torch.optim.lr_scheduler",
)


# Where the modules of the flat layout before 0.5.0 live now: checkpoints naming them keep opening.
MOVED_MODULES = {
    "mnist_lightning.nets": "mnist_lightning.model.nets",
    "mnist_lightning.module": "mnist_lightning.model.lit_module",
    "mnist_lightning.augment": "mnist_lightning.data.augment",
}


def check_same_network_options(checkpoint: dict, module: torch.nn.Module, path: str | Path, cfg: Any = None) -> None:
    """Refuse to resume with network options that hold no weights but change what the network computes (crop,
    downsample, same_padding, stem_padding, residual, pool_after, activation, leaky_slope, dropout, a ShiftAveraged
    shift): the weights still fit, so check_same_network lets them through. An option a config does not name (an
    older version's) counts as the network's default. Given the run's `cfg`, an option the config sets from another
    (`model.net.dropout: ${model.dropout}`) is named as the user types it (`model.dropout`)."""
    saved, now = checkpoint.get("hyper_parameters", {}).get("net_config"), module.hparams.get("net_config")
    if not saved or not now:  # checkpoints of 0.1 stored no net_config
        return
    for name, was, is_now in network_option_differences(saved, now):
        name = option_source(cfg, name) if cfg is not None else name
        raise UserError(
            f"{path} was trained with {name}={was} and this run has {name}={is_now}: "
            "resume with the network options it was trained with"
        )


def check_same_optimization(checkpoint: dict, module: torch.nn.Module, path: str | Path) -> None:
    """Refuse to resume with other optimizer or scheduler settings. Lightning restores both from the checkpoint (the
    optimizer's lr and moments, the scheduler's state), so a new optimizer.lr was recorded but never used, and another
    scheduler failed on the restored state (a KeyError). Checkpoints of 0.1, which pickled them, are not compared."""
    saved = checkpoint.get("hyper_parameters", {})

    def settings(config: dict) -> dict:  # fused and foreach choose kernels, not numbers (0.4.0 added fused=true)
        return {k: v for k, v in config.items() if v is not None and k not in ("fused", "foreach")}

    for section in ("optimizer", "scheduler"):
        stored = saved.get(section) or {}
        if not isinstance(stored, dict):  # 0.1's pickled partial
            continue
        was, now = settings(current_targets(stored)), settings(dict(module.hparams.get(section) or {}))
        if was == now:
            continue
        if was.get("_target_") != now.get("_target_"):
            kind = lambda config: (config.get("_target_") or "none").rpartition(".")[2]  # noqa: E731 - OneCycleLR
            difference = f"{section} {kind(was)} and this run has {kind(now)}"
        else:
            key = next(k for k in sorted(was.keys() | now.keys()) if was.get(k) != now.get(k))
            difference = f"{section}.{key}={was.get(key)} and this run has {section}.{key}={now.get(key)}"
        raise UserError(
            f"{path} was trained with {difference}: a resumed run goes on with the optimizer and schedule its "
            f"checkpoint holds, so resume with its run's {section} settings, or train a new run"
        )


def check_same_averaging(checkpoint: dict, cfg: Any, path: str | Path) -> None:
    """Refuse to resume with a moving average of the weights (experiment=nano_ema's callbacks.ema) dropped or added.
    Dropped, the run silently trained on from the average the checkpoint saves as its weights, not from the weights
    it trained; added, Lightning would start the average half-way, from the checkpoint's weights."""
    averaged = "current_model_state" in checkpoint  # Lightning's WeightAveraging keeps the trained weights there

    def averages(node: Any) -> bool:
        target = get_object(node["_target_"]) if node and node.get("_target_") else None
        return isinstance(target, type) and issubclass(target, WeightAveraging)

    added = [f"callbacks.{name}" for name, node in (cfg.get("callbacks") or {}).items() if averages(node)]
    if averaged and not added:
        raise UserError(
            f"{path} was trained with a moving average of its weights and this run has none: resume with the "
            "callbacks it was trained with (experiment=nano_ema's callbacks.ema), or train a new run"
        )
    if added and not averaged:
        raise UserError(
            f"{path} was trained without a moving average of its weights and this run adds one ({added[0]}): "
            "resume without it, or train a new run with it"
        )


def option_source(cfg: Any, name: str) -> str:
    """The option a user sets for config key `name`: the key its value interpolates (`${model.dropout}` for
    `model.net.dropout`), followed through a chain of them, or `name` itself."""
    for _ in range(10):  # a chain of interpolations, not a loop
        parent, _, key = name.rpartition(".")
        node = OmegaConf.select(cfg, parent, default=None) if parent else cfg
        value = OmegaConf.to_container(node, resolve=False).get(key) if OmegaConf.is_dict(node) else None
        match = re.fullmatch(r"\$\{([\w.]+)\}", value) if isinstance(value, str) else None
        if match is None:
            return name
        name = match.group(1)
    return name


def run_setting_differences(ckpt_path: str | Path, cfg: Any) -> list[str]:
    """`key: was -> now` for each training setting (base/training_settings.py) where this run differs from the run
    that wrote `ckpt_path`, as its folder's `.hydra/config.yaml` says (none when that file is missing). Resuming with
    other settings is allowed (more epochs, say), but a user who forgot the run's overrides should see what changed."""
    run_config = Path(ckpt_path).parent.parent / ".hydra" / "config.yaml"
    if not run_config.is_file():
        return []
    # Unresolved on both sides: an interpolation such as ${seed} is compared as written, its source key by value.
    # An earlier version's class paths are compared where those classes live now.
    was = current_targets(OmegaConf.to_container(OmegaConf.load(run_config), resolve=False))
    now = current_targets(OmegaConf.to_container(cfg, resolve=False))  # a config that still names a wrapped class

    def flat(tree: Any, prefix: str) -> dict[str, Any]:
        if not isinstance(tree, dict):
            return {prefix: tree}
        return {k: v for key, value in tree.items() for k, v in flat(value, f"{prefix}.{key}").items()}

    def shown(value: Any) -> str:
        return "null" if value is None else str(value)  # as the user types it

    before = {k: v for section in was for k, v in flat(was[section], section).items()}
    after = {k: v for section in now for k, v in flat(now[section], section).items()}
    # A key the run's config lacks is an option added since (at its default), or one added with +: only the first
    # is common enough to ask for no line.
    keys = sorted(k for k in before if is_training_setting(k) and before[k] != after.get(k))
    return [f"{key}: {shown(before.get(key))} -> {shown(after.get(key))}" for key in keys]


def network_option_differences(saved: dict, now: dict, prefix: str = "model.net") -> Iterator[tuple[str, Any, Any]]:
    """(option, saved value, current value) for every option that differs, defaults filled in from the current
    config's class at each level (a network inside a network, such as ShiftAveraged's, is compared option by option).
    """
    signature = inspect.signature(get_class(now["_target_"]))
    defaults = {name: p.default for name, p in signature.parameters.items() if p.default is not p.empty}
    saved, now = defaults | saved, defaults | now

    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value  # a default (8, 16) equals a config's [8, 16]

    for key in sorted((saved.keys() | now.keys()) - {"_target_"}):
        was, is_now = saved.get(key), now.get(key)
        if isinstance(was, dict) and isinstance(is_now, dict) and "_target_" in is_now:
            yield from network_option_differences(was, is_now, f"{prefix}.{key}")
        elif plain(was) != plain(is_now):
            yield f"{prefix}.{key}", plain(was), plain(is_now)


def check_same_distillation(checkpoint: dict, module: torch.nn.Module, path: str | Path) -> None:
    """Refuse to resume a run with other held-out images or distillation settings than it was trained with: a
    changed data.val_size would train on images it validated on (and a teacher made from it would lie about what
    it held out); a teacher added, dropped or swapped half-way would silently change the loss."""
    saved, hparams = checkpoint.get("hyper_parameters", {}), module.hparams
    if saved.get("held_out", hparams.held_out) != hparams.held_out:  # older checkpoints do not say: not checked
        raise UserError(
            f"{path} was trained with data.val_size={saved['held_out']} and this run has "
            f"data.val_size={hparams.held_out}: resume with the held-out images it was trained with"
        )

    def settings(weight: float, temperature: float | None, teacher: str | None) -> tuple:
        return (weight, temperature, teacher) if weight else (0.0,)

    def describe(weight: float, temperature: float | None = None, teacher: str | None = None) -> str:
        return (
            f"distill.teacher={teacher} distill.weight={weight} distill.temperature={temperature}"
            if weight
            else "no distill.teacher"
        )

    was = settings(saved.get("distill_weight", 0.0), saved.get("distill_temperature"), saved.get("distill_teacher"))
    now = settings(hparams.distill_weight, hparams.distill_temperature, hparams.distill_teacher)
    if was != now:
        raise UserError(
            f"{path} was trained with {describe(*was)} and this run has {describe(*now)}: "
            "resume with the distillation settings it was trained with"
        )


# Classes an earlier version's configs named that the project now wraps (experiment=nano_ema before 0.5.0's fix of
# its resume): the same settings, so a resumed run compares them as equal.
WRAPPED_CLASSES = {"pytorch_lightning.callbacks.EMAWeightAveraging": "mnist_lightning.run.callbacks.EMAWeightAveraging"}


def current_targets(config: object) -> object:
    """`config` with every `_target_` of an earlier version's layout replaced by where that object lives now."""
    if isinstance(config, dict):
        moved = {key: current_targets(value) for key, value in config.items()}
        if isinstance(moved.get("_target_"), str):
            module, _, name = moved["_target_"].rpartition(".")
            target = f"{MOVED_MODULES.get(module, module)}.{name}"
            moved["_target_"] = WRAPPED_CLASSES.get(target, target)
        return moved
    if isinstance(config, list):
        return [current_targets(value) for value in config]
    return config


class _MovedModulesUnpickler(pickle.Unpickler):
    """Unpickles objects of the flat layout before 0.5.0 (0.1 pickled functools.partial objects) where they live now."""

    def find_class(self, module: str, name: str) -> object:
        return super().find_class(MOVED_MODULES.get(module, module), name)


# What torch.load takes as `pickle_module`: the standard pickle module with the unpickler above.
MovedModulesPickle = types.SimpleNamespace(
    Unpickler=_MovedModulesUnpickler, load=pickle.load, __name__="pickle", UnpicklingError=pickle.UnpicklingError
)


def check_targets(config: object, path: str | Path) -> None:
    """Refuse a stored config naming a `_target_` outside SAFE_TARGETS, in one line."""
    if isinstance(config, dict):
        target = config.get("_target_")
        module, _, name = str(target).rpartition(".")
        if target is not None and (module not in SAFE_TARGETS or not name.isidentifier()):
            raise UserError(
                f"{path} names {target!r} to build, which is not one of this project's networks: opening it "
                f"could run code; if the network is your own (e.g. from --config-dir), add trust_checkpoint=true"
            )
        for value in config.values():
            check_targets(value, path)
    elif isinstance(config, list):
        for value in config:
            check_targets(value, path)


def load_module(ckpt_path: str | Path, trust: bool = False) -> MNISTLitModule:
    """The LightningModule saved in a checkpoint file."""
    return module_from_checkpoint(read_checkpoint(ckpt_path, trust), ckpt_path, trust)


def module_from_checkpoint(checkpoint: dict, ckpt_path: str | Path, trust: bool = False) -> MNISTLitModule:
    """The LightningModule saved in `checkpoint`, its network rebuilt from the config stored with it."""
    hparams = dict(checkpoint.get("hyper_parameters", {}))
    if not hparams.get("net_config"):
        # Checkpoints written before the config was stored in them: use their run folder's config.
        run_config = Path(ckpt_path).parent.parent / ".hydra" / "config.yaml"
        if not run_config.is_file():
            where = (f"{run_config} is missing" if Path(ckpt_path).parent.name == "checkpoints"
                     else "it is not in a run folder's checkpoints/, beside the run's .hydra/config.yaml")  # fmt: skip
            raise UserError(f"{ckpt_path} does not say which network made it, and {where}")
        hparams["net_config"] = OmegaConf.to_container(OmegaConf.load(run_config).model.net, resolve=True)
    hparams = current_targets(hparams)
    if not trust:
        check_targets(hparams, ckpt_path)
    hparams["compile"] = False  # compiling pays off over many training steps, not one evaluation
    module = MNISTLitModule(net=instantiate(hparams["net_config"]), **hparams)
    check_same_network(checkpoint, module, ckpt_path)
    module.load_state_dict(checkpoint["state_dict"])
    return module


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves through `<file>.partial` in the same folder, then renames: a kill while saving leaves the old file.

    Lightning's own save goes through a temporary file in the system temp folder; when that is on another
    filesystem, the final move is a copy, and a kill during it leaves a truncated `last.ckpt`.
    """

    def save_checkpoint(self, checkpoint: dict, path: str | Path, storage_options: object | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.partial")
        with partial.open("wb") as file:
            torch.save(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)  # atomic on one filesystem


class BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that still knows the best score after a resume into a new run folder.

    When the folder changed, Lightning restores only `best_model_path`, so the first epoch after a resume would
    be saved as "best" whatever its score. Here the score is kept too: a later epoch must beat it, and until
    one does, the best file stays the one in the earlier run's folder (which is never deleted from here).
    """

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        if state_dict.get("dirpath") != self.dirpath and state_dict.get("best_model_score") is not None:
            self.best_model_score = state_dict["best_model_score"]
            self.best_k_models = dict(state_dict.get("best_k_models", {}))
            self.kth_best_model_path = state_dict.get("kth_best_model_path", "")
            self.kth_value = state_dict.get("kth_value", self.kth_value)
