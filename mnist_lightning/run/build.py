"""Build a run's objects from its config: the network in its LightningModule, and the Trainer with its callbacks."""

import logging
import os
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.plugins.environments import SLURMEnvironment
from pytorch_lightning.utilities import rank_zero_only

from mnist_lightning.base.checkpoint_path import checkpoint_path_error
from mnist_lightning.base.errors import UserError, first_line
from mnist_lightning.base.value_ranges import label_smoothing_error
from mnist_lightning.model.budget import check_param_budget, format_layer_table, layer_table
from mnist_lightning.model.lit_module import MNISTLitModule, warm_up_is_one_step
from mnist_lightning.run.checkpoints import WRAPPED_CLASSES, module_from_checkpoint, read_checkpoint
from mnist_lightning.run.checks import validates_nothing
from mnist_lightning.run.cluster import local_job_cpus, slurm_task_cpus, submitit_executor
from mnist_lightning.run.precision import resolve_precision
from mnist_lightning.run.tracking import mlflow_run_name

log = logging.getLogger(__name__)


def build_module(cfg: DictConfig, val_is_test: bool = True, verbose: bool = True) -> tuple[MNISTLitModule, int]:
    """The network from `cfg.model.net`, checked against `cfg.model.max_params`, wrapped in the LightningModule."""
    trust = cfg.get("trust_checkpoint", False)
    distill = checked_distill(cfg, val_is_test, trust)  # first: a wrong distill.* is one line before the layer table
    net = instantiate(cfg.model.net)
    params = check_param_budget(net, cfg.model.max_params)
    if verbose and rank_zero_only.rank == 0:  # DDP runs this function once per process
        log.info(format_layer_table(layer_table(net), params))
        if distill:
            log.info(
                f"distilling from {distill['distill_teacher']} (distill.weight={distill['distill_weight']}, "
                f"distill.temperature={distill['distill_temperature']})"
            )
    optimizer_cfg = OmegaConf.to_container(cfg.optimizer, resolve=True)
    # scheduler=none composes to an empty node, which is falsy: test for None, not truth.
    scheduler_node = cfg.get("scheduler")
    scheduler_cfg = OmegaConf.to_container(scheduler_node, resolve=True) if scheduler_node is not None else {}
    interval = scheduler_cfg.pop("interval", "epoch")  # ours, not the scheduler's: when Lightning steps it
    if interval not in ("epoch", "step"):
        raise UserError(f"scheduler.interval must be epoch or step, got {interval!r}")
    # Trial builds, so a bad lr, gamma or schedule stops the run now rather than after data loading.
    try:
        trial = instantiate(optimizer_cfg)(params=net.parameters())
    except ValueError as error:
        raise UserError(f"the optimizer refused its settings: {error} (see optimizer.* in the config)") from error
    if scheduler_cfg:
        max_lr = scheduler_cfg.get("max_lr")  # OneCycleLR takes any number: a negative one would train backwards
        if isinstance(max_lr, int | float) and not isinstance(max_lr, bool) and max_lr <= 0:
            raise UserError(f"scheduler.max_lr must be a positive number, got {max_lr}")
        # A step schedule's trial length: not one that makes OneCycleLR's warm-up exactly 1 step (the real run's length
        # is checked in configure_optimizers), so a valid pct_start such as 0.01 is not refused here.
        trial_steps = 101 if warm_up_is_one_step(scheduler_cfg, 100) else 100
        try:
            instantiate(scheduler_cfg)(optimizer=trial, **({"total_steps": trial_steps} if interval == "step" else {}))
        except (ValueError, ZeroDivisionError) as error:  # ZeroDivisionError: OneCycleLR with a factor of 0
            raise UserError(f"the scheduler refused its settings: {error} (see scheduler.* in the config)") from error
    if distill:  # built after the student: the teacher's own initial weights draw from the seeded generator
        teacher = module_from_checkpoint(distill.pop("checkpoint"), Path(distill["distill_teacher"]), trust)
        distill["teacher"] = teacher.net
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
        held_out=cfg.data.get("val_size", 0),
        **distill,
    )
    return module, params


def checked_distill(cfg: DictConfig, val_is_test: bool, trust: bool) -> dict:
    """The LightningModule's distillation arguments from `cfg.distill`, checked: the temperature, the weight, the
    teacher's path and its checkpoint, read (build_module builds the teacher from it); none without a teacher."""
    distill = cfg.get("distill") or {}
    if not distill.get("teacher"):
        return {}
    weight, temperature = distill.get("weight", 0.5), distill.get("temperature", 4.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 1:
        raise UserError(f"distill.weight must be a number in (0, 1], got {weight!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not temperature > 0:
        raise UserError(f"distill.temperature must be a positive number, got {temperature!r}")
    path = Path(distill.teacher)
    if message := checkpoint_path_error(path, "distill.teacher"):  # a run folder pasted: names the file in it
        raise UserError(message)
    checkpoint = read_checkpoint(path, trust)
    if not val_is_test:  # what the checkpoint itself says (the module built from it would fill in a default)
        check_teacher_held_out(path, checkpoint.get("hyper_parameters", {}).get("held_out"), cfg.data.val_size)
    return {
        "checkpoint": checkpoint,
        "distill_temperature": float(temperature),
        "distill_weight": float(weight),
        "distill_teacher": str(path.resolve()),
    }


def check_teacher_held_out(path: Path, teacher_held_out: int | None, val_size: int) -> None:
    """Refuse a teacher that trained on any of the images a run holds out: the held-out images are the first
    `val_size` of one fixed order (data/datamodule.py), so a teacher that held out at least as many never saw them.
    Its checkpoint says how many it held out (`held_out`; a resumed run keeps it); one made before checkpoints
    said so is judged by its run folder's config."""
    if teacher_held_out is None:
        run_config = path.resolve().parent.parent / ".hydra" / "config.yaml"
        data = OmegaConf.load(run_config).get("data") if run_config.is_file() else None
        if not data or not isinstance(data.get("val_size"), int):
            raise UserError(
                f"distill.teacher {path} does not say how many training images it held out (an older checkpoint "
                f"without its run's config): nothing shows it never trained on the ones this run holds out"
            )
        teacher_held_out = data.val_size
    if teacher_held_out < val_size:
        raise UserError(
            f"distill.teacher {path} held out {teacher_held_out:,} training images, so it trained on "
            f"{val_size - teacher_held_out:,} of the {val_size:,} this run holds out (data.val_size): train the "
            f"teacher with data.val_size={val_size} (or more) and test=false"
        )


def check_label_smoothing(value: float) -> float:
    """`model.label_smoothing`, refused with one line unless it is a number in [0, 1)."""
    if message := label_smoothing_error(value):
        raise UserError(message)
    return value


def build_trainer(cfg: DictConfig, extra_callbacks: list[pl.Callback], val_is_test: bool) -> pl.Trainer:
    """The Trainer from `cfg.trainer`, with the configured callbacks and loggers (`precision=auto` made concrete)."""
    callbacks_cfg = dict(cfg.get("callbacks") or {})
    # No "best" checkpoint when validation scores the test set (it would be a model chosen on it), or when
    # nothing is validated at all (experiment=fast).
    if val_is_test or validates_nothing(cfg):
        callbacks_cfg.pop("best_checkpoint", None)

    # A config that names a class the project wraps (an experiment copied from 0.4 naming Lightning's EMA) gets the
    # wrapper, which tests the average on a resume too
    def wrapper(c: DictConfig) -> DictConfig:
        target = c.get("_target_") if c else None
        return OmegaConf.merge(c, {"_target_": WRAPPED_CLASSES[target]}) if target in WRAPPED_CLASSES else c

    callbacks = [instantiate(wrapper(c)) for c in callbacks_cfg.values()] + extra_callbacks
    loggers = [build_logger(name, c, Path(cfg.paths.output_dir)) for name, c in (cfg.get("logger") or {}).items()]
    plugins = list(instantiate(cfg.trainer.get("plugins") or []))
    if submitit_executor() == "slurm":
        # submitit requeues such a job at its time limit (on SIGUSR2) and the run resumes from last.ckpt
        # (run/cluster.py). Lightning's own requeue, on SIGUSR1 should a cluster send it, would save a mid-epoch
        # hpc checkpoint and resume from it, which does not reproduce the epoch's data order: one mechanism only.
        plugins.append(SLURMEnvironment(auto_requeue=False))
    precision = resolve_precision(cfg.trainer)
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=plugins, precision=precision)


def build_logger(name: str, config: DictConfig, output_dir: Path) -> pl.loggers.Logger:
    """One configured logger; a setting it refuses (a W&B project name with a slash, a tracking URI MLflow cannot
    read) is one line naming it, where Hydra wrapped the library's error in its own."""
    extra = {}
    if str(config.get("_target_", "")).endswith("MLFlowLogger") and config.get("run_name") is None:
        extra["run_name"] = mlflow_run_name(output_dir)
    try:
        return instantiate(config, **extra)
    except Exception as error:  # noqa: BLE001 - each tracker raises its own kinds
        reason = first_line(error.__cause__ or error)  # Hydra's InstantiationException wraps the library's
        raise UserError(f"logger.{name} could not be built: {reason}") from error


def torch_threads(cfg: DictConfig) -> int:
    """`torch_threads` if set; else the cores shared among the processes running at once, so none oversubscribe.

    A SLURM task (hydra/launcher=submitit_slurm, sbatch, srun) uses its `--cpus-per-task`: SLURM runs one DDP
    process per task. Elsewhere the cores this process may use (a job of hydra/launcher=submitit_local: its share)
    are divided among the parallel jobs of hydra/launcher=joblib and the DDP processes on the CPU.
    """
    if cfg.get("torch_threads"):
        return cfg.torch_threads
    if slurm_task_cpus():
        return slurm_task_cpus()
    cores = local_job_cpus() or len(os.sched_getaffinity(0))  # the cores this process may run on, not the machine's
    processes = 1
    n_jobs = HydraConfig.get().launcher.get("n_jobs") if HydraConfig.initialized() else None
    if n_jobs is not None:
        processes *= cores if n_jobs < 0 else n_jobs  # joblib: -1 means one job per core
    trainer = cfg.get("trainer") or {}
    if trainer.get("accelerator") == "cpu" and "ddp" in str(trainer.get("strategy", "")):
        processes *= int(trainer.get("devices", 1))
    if processes == 1 and not local_job_cpus():
        return torch.get_num_threads()
    return max(1, cores // processes)
