"""python -m mnist_lightning.train: compose the config -> check -> build -> fit -> test -> record metrics.json."""

import sys

from mnist_lightning.base.command_line import answer_early

if __name__ == "__main__":  # mistakes, --help and --cfg job are answered before torch and Lightning load (8-10 s)
    answer_early("train", sys.argv[1:])

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from mnist_lightning.base.command import command
from mnist_lightning.base.console import tag_console_lines
from mnist_lightning.base.errors import Interrupted, UserError
from mnist_lightning.model.budget import OverBudget
from mnist_lightning.model.flops import flops_per_image, run_flops
from mnist_lightning.run.build import build_module, build_trainer, torch_threads
from mnist_lightning.run.callbacks import Diverged, DivergenceGuard, EpochHistory, LearnedNothing
from mnist_lightning.run.checkpoints import (
    check_epochs_left,
    check_same_averaging,
    check_same_distillation,
    check_same_network,
    check_same_network_options,
    check_same_optimization,
    read_checkpoint,
    run_setting_differences,
)
from mnist_lightning.run.checks import check_train_config
from mnist_lightning.run.cluster import (
    checkpoint_to_resume,
    drop_stale_hpc_checkpoints,
    slurm_job,
    submitit_executor,
)
from mnist_lightning.run.diagnostics import log_hparams
from mnist_lightning.run.distributed import wait_for_other_ranks
from mnist_lightning.run.precision import AUTO
from mnist_lightning.run.provenance import provenance
from mnist_lightning.run.pruning import PruneBehind
from mnist_lightning.run.record import (
    as_float,
    final_metrics,
    interrupted_message,
    interruption,
    log_result,
    run_settings,
    run_tags,
    write_metrics,
)
from mnist_lightning.run.tracking import log_final_metrics, log_run_files, log_settings


def train(cfg: DictConfig, callbacks: Sequence[pl.Callback] = ()) -> dict:
    """Fit and test the configured experiment; return (and write to the run folder) its metrics.

    `callbacks` are added to the configured ones: a way for tests and scripts to watch a run.
    """
    check_train_config(cfg)
    threads = torch_threads(cfg)
    torch.set_num_threads(threads)
    # Lightning's DDP launcher sets the threads again (cores / processes) unless OMP_NUM_THREADS is set: setting it
    # keeps torch_threads=N, and a SLURM task's cpus_per_task, under DDP too
    os.environ["OMP_NUM_THREADS"] = str(threads)
    # provenance (below) is read now: the tree may change during the run
    record = {"status": "ok", "seed": cfg.seed, "tags": run_tags(cfg.get("tags")), "provenance": provenance()}
    record["slurm"] = slurm_job()
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    datamodule = instantiate(cfg.data)
    ckpt_path = checkpoint_to_resume(cfg.get("ckpt_path"), output_dir)
    # Read now: a wrong path ends in one line before the layer table is printed, not after it
    checkpoint = None if ckpt_path is None else read_checkpoint(ckpt_path, cfg.trust_checkpoint)  # '' is refused
    module, params = build_module(cfg, val_is_test=datamodule.val_is_test)
    if rank_zero_only.rank == 0:  # named now, not only in the last line: for TensorBoard while it trains, or a kill -9
        logging.getLogger(__name__).info(f"run folder: {output_dir}")
    per_image_flops = flops_per_image(module.net)  # from the shapes, once: the compute, whatever the machine
    if module.teacher is not None:  # distillation: each training image also goes through the teacher, forward only
        per_image_flops["train"] += flops_per_image(module.teacher, backward=False)["forward"]
    if checkpoint is not None:  # check it now: Lightning would fail only after setting everything up
        check_same_network(checkpoint, module, ckpt_path)
        check_epochs_left(checkpoint, ckpt_path, cfg.trainer.get("max_epochs"))
        check_same_network_options(checkpoint, module, ckpt_path, cfg)
        check_same_optimization(checkpoint, module, ckpt_path)
        check_same_distillation(checkpoint, module, ckpt_path)
        check_same_averaging(checkpoint, cfg, ckpt_path)
        changed = run_setting_differences(ckpt_path, cfg)
        if changed and rank_zero_only.rank == 0:  # DDP runs this function once per process
            logging.getLogger(__name__).warning(
                f"resuming {ckpt_path} with settings other than its run's ({', '.join(changed)}); to go on as it was, "
                "add the overrides in its run folder's .hydra/overrides.yaml"
            )
        if str(cfg.trainer.get("precision")) == AUTO and checkpoint.get("precision"):
            # auto is decided once per run, where it starts: a run resumed on another machine (a requeued SLURM job)
            # keeps its numerics, rather than switching between bf16 and fp32 halfway
            with open_dict(cfg):
                cfg.trainer.precision = checkpoint["precision"]
    history = EpochHistory()
    pruning = []
    if cfg.get("optuna_trial"):  # a trial of a search with a pruner (hydra_plugins/mnist_optuna_sweeper)
        pruner = instantiate(HydraConfig.get().sweeper.pruner)
        pruning = [PruneBehind(**cfg.optuna_trial, pruner=pruner, monitor=cfg.optimized_metric)]
    trainer = build_trainer(cfg, [history, DivergenceGuard(), *pruning, *callbacks], datamodule.val_is_test)
    # The numerics it trained with: trainer.precision=auto picks them per machine (run/precision.py)
    record |= {"params": params, "val_is_test": datamodule.val_is_test, "precision": str(trainer.precision)}
    record["config"] = OmegaConf.to_container(cfg, resolve=True)
    log_settings(trainer, record["config"], record, output_dir)

    start = time.perf_counter()
    try:
        # Weights-only loading of a resumed checkpoint: it holds plain data only (run/checkpoints.py).
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=not cfg.trust_checkpoint)
        fit_end = time.perf_counter()
        drop_stale_hpc_checkpoints(trainer)  # else, under SLURM, the test would load one instead of the final weights
        train_seconds = history.earlier_seconds + fit_end - start  # a resumed run's earlier processes' fit time too
        # testing resets callback_metrics: the images of the last epoch, read now
        per_epoch = {stage: as_float(trainer.callback_metrics.get(f"{stage}/images")) for stage in ("train", "val")}
        learned_nothing = LearnedNothing.judge(as_float(trainer.callback_metrics.get("train/acc")), trainer.global_step)
        # The final weights, not the best checkpoint: the figure we report is final-epoch test accuracy.
        # test=false (a search trial): the test set is never scored, so nothing can be chosen on it.
        test = trainer.test(module, datamodule=datamodule, verbose=False)[0] if cfg.get("test", True) else {}
        test_seconds = time.perf_counter() - fit_end
    except MisconfigurationException as refused:  # Lightning's word on a setting (limit_train_batches=0.0001, ...)
        raise UserError(f"Lightning refused the run's settings: {str(refused).strip().splitlines()[0]}") from refused
    except Diverged as diverged:
        if trainer.is_global_zero:
            failure = {"epoch": diverged.epoch, "step": diverged.step, "loss": str(diverged.loss)}
            write_metrics(output_dir, record | {"status": "diverged", "diverged": failure, "history": history.rows})
            log_run_files(trainer, output_dir)  # the tracker's failed run holds its record too
        raise Diverged(diverged.epoch, diverged.step, diverged.loss, output_dir / "metrics.json") from None
    except Exception:
        if pruning and pruning[0].pruned_at is not None and trainer.is_global_zero:  # a search stopped this trial
            where = {"epoch": pruning[0].pruned_at, "step": trainer.global_step}
            write_metrics(output_dir, record | {"status": "pruned", "pruned": where, "history": history.rows})
        raise
    except SystemExit:  # Lightning turns Ctrl-C into exit(1) after a graceful shutdown
        # submitit exits the same way after requeueing a job at its time limit: its exit is the job's to report.
        if not trainer.interrupted or submitit_executor():
            raise
        stopped = interruption(cfg, trainer, output_dir)
        if trainer.is_global_zero:  # its record so far, so a report can say where it stopped and how to go on
            write_metrics(
                output_dir, record | {"status": "interrupted", "interrupted": stopped, "history": history.rows}
            )
            log_run_files(trainer, output_dir)
        interrupted = Interrupted(interrupted_message(stopped))
        if stopped["signal"] == "SIGTERM":
            interrupted.exit_code = 143  # 128 + SIGTERM, as a shell reports a process killed by it
        raise interrupted from None

    metrics = record | final_metrics(trainer, history, output_dir, test)
    metrics |= {"train/images": per_epoch["train"], "torch_threads": torch.get_num_threads()}
    validated = sum(1 for row in history.rows if row.get("val/acc") is not None)  # every epoch, resumed ones too
    epochs = {"train": metrics["epochs"], "val": validated}
    metrics["flops"] = run_flops(per_image_flops, per_epoch, epochs, metrics["test/images"])
    metrics |= {"train_seconds": round(train_seconds, 2), "test_seconds": round(test_seconds, 2) if test else None}
    if trainer.fast_dev_run:  # a few batches of each stage: a smoke test's accuracy, kept out of reports' means
        metrics["fast_dev_run"] = int(trainer.fast_dev_run)  # the batches of each stage: true is 1
    if learned_nothing:  # recorded with its numbers, but not as a result (report leaves it out of the means)
        metrics |= {"status": "chance_level", "chance_level": {"train/acc": learned_nothing.train_acc}}
    final = {name: metrics[name] for name in ("test/acc", "test/loss", "val/acc_best") if metrics[name] is not None}
    log_hparams(trainer, run_settings(cfg), final)
    log_final_metrics(trainer, final)  # val/acc_best, known only now, to the trackers other than TensorBoard
    if trainer.is_global_zero:
        wait_for_other_ranks(trainer)  # a run is ok only when every process of it is
        write_metrics(output_dir, metrics)
        log_run_files(trainer, output_dir)
        log_result(metrics, output_dir)
    if learned_nothing and trainer.is_global_zero:  # one error, from the process that wrote metrics.json
        raise learned_nothing
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
    logging.getLogger(__name__).warning(f"skipped, not trained: {over}")
    record = {"status": "over_budget", "params": over.params, "max_params": over.max_params, "seed": cfg.seed}
    write_metrics(Path(cfg.paths.output_dir), record | {"config": OmegaConf.to_container(cfg, resolve=True)})
    return 0.0


@command("train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns `optimized_metric` so a sweeper such as Optuna can maximize it."""
    log_lightning_through_hydra()
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN and not str(hydra_cfg.launcher._target_).endswith(".BasicLauncher"):
        tag_console_lines(hydra_cfg.job.num)  # jobs that may run at once: whose line is whose
    try:
        return train(cfg)[cfg.optimized_metric]
    except OverBudget as over:  # in a search, the next trial goes on; a single run stops with the one-line error
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        return skip_over_budget(cfg, over)
    except (Diverged, LearnedNothing) as failed:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        # In a sweep the other jobs go on: this one is marked diverged (or chance_level) in its metrics.json and
        # the report, and a sweeper such as Optuna is told the worst accuracy there is.
        print(f"error: {failed}", file=sys.stderr)
        return 0.0


if __name__ == "__main__":
    main()  # the command line was checked at the top
