"""What loggers get beyond the metrics Lightning sends them: the run's settings, and MLflow its tags and files.

TensorBoard is left out here: its HPARAMS tab is filled after testing with the core settings and the final
metrics (diagnostics.log_hparams), and its figures come from TestDiagnostics.
"""

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import MLFlowLogger, TensorBoardLogger


def log_settings(trainer: pl.Trainer, config: dict, record: dict, output_dir: Path) -> None:
    """The whole resolved config as hyperparameters (CSV's hparams.yaml, MLflow's parameters, flattened there as
    `model/net/block1`), and MLflow's tags: the recipe's `tags`, the git commit and the run folder."""
    if not trainer.is_global_zero:
        return
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            continue
        logger.log_hyperparams(config)
        if isinstance(logger, MLFlowLogger):
            tags = {
                "tags": ", ".join(record["tags"]),
                "mlflow.source.git.commit": record["provenance"]["git_commit"] or "",  # MLflow's own key for it
                "git_dirty": str(record["provenance"]["git_dirty"]),
                "run_folder": str(output_dir.resolve()),
                "seed": str(record["seed"]),
            }
            for key, value in tags.items():
                logger.experiment.set_tag(logger.run_id, key, value)


def log_run_files(trainer: pl.Trainer, output_dir: Path) -> None:
    """metrics.json (and so the run's whole record) as an MLflow artifact, once it is written."""
    if not trainer.is_global_zero:
        return
    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger):
            logger.experiment.log_artifact(logger.run_id, str(output_dir / "metrics.json"))
