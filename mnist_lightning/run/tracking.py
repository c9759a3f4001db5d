"""What loggers get beyond the metrics Lightning sends them: the run's settings, and MLflow its tags and files.

TensorBoard is left out here: its HPARAMS tab is filled after testing with the core settings and the final
metrics (diagnostics.log_hparams), and its figures come from TestDiagnostics.
"""

import logging
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import MLFlowLogger, TensorBoardLogger

from mnist_lightning.base.errors import UserError, first_line
from mnist_lightning.base.training_settings import is_training_setting


def log_settings(trainer: pl.Trainer, config: dict, record: dict, output_dir: Path) -> None:
    """The whole resolved config as hyperparameters (CSV's hparams.yaml, MLflow's parameters, flattened there as
    `model/net/block1`), and MLflow's tags: the recipe's `tags`, the git commit and the run folder."""
    if not trainer.is_global_zero:
        return
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            continue
        try:
            logger.log_hyperparams(config)  # a tracker's first contact: its store or server is reached here
            if isinstance(logger, MLFlowLogger):
                tags = {
                    "tags": ", ".join(record["tags"]),
                    "mlflow.source.git.commit": record["provenance"]["git_commit"] or "",  # MLflow's own key for it
                    "git_dirty": str(record["provenance"]["git_dirty"]),
                    "run_folder": str(output_dir.resolve()),
                    "seed": str(record["seed"]),
                    "resumed_from": str(config.get("ckpt_path") or ""),  # the run whose checkpoint it went on from
                }
                for key, value in tags.items():
                    logger.experiment.set_tag(logger.run_id, key, value)
        except Exception as error:  # noqa: BLE001 - a store that cannot be reached or written: one line, not five
            if isinstance(logger, MLFlowLogger) and logger._run_id is not None:  # else it stays RUNNING for good
                logger.finalize("failed")
            reason = first_line(error)
            raise UserError(f"the {type(logger).__name__} could not record the run: {reason}") from error


def log_final_metrics(trainer: pl.Trainer, metrics: dict[str, float]) -> None:
    """The final metrics a run knows only when it ends (val/acc_best, from its history), to the trackers other than
    TensorBoard, whose HPARAMS tab gets them (diagnostics.log_hparams); those already logged are not sent again."""
    if not trainer.is_global_zero:
        return
    new = {name: value for name, value in metrics.items() if name not in trainer.callback_metrics}
    for logger in trainer.loggers:
        if new and not isinstance(logger, TensorBoardLogger):
            logger.log_metrics(new, step=trainer.global_step)
            logger.save()


def mlflow_run_name(output_dir: Path) -> str:
    """A name that tells a sweep's runs apart: the overrides that change what it trains (`model.dropout=0.1,seed=2`;
    not threads or loggers), else its folder's name. MLflow's own generated names come from Python's `random`, which
    the run has seeded: every run of a seed had the same one."""
    from hydra.core.hydra_config import HydraConfig

    given = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return ",".join(o for o in given if is_training_setting(o.partition("=")[0])) or output_dir.name


def log_run_files(trainer: pl.Trainer, output_dir: Path) -> None:
    """metrics.json (and so the run's whole record) as an MLflow artifact, once it is written."""
    if not trainer.is_global_zero:
        return
    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger):
            logger.experiment.log_artifact(logger.run_id, str(output_dir / "metrics.json"))
            # where the run went, as the W&B logger says of its own: the store and how to browse it
            uri, name = logger.experiment.tracking_uri, logger.experiment.get_run(logger.run_id).info.run_name
            local = uri.startswith(("sqlite:", "file:")) or "://" not in uri  # else a server: its own address
            browse = f" (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow ui --workers 1 --backend-store-uri {uri})"
            logging.getLogger(__name__).info(f"MLflow run {name!r} in {uri}{browse if local else ''}")
