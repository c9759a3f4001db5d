"""A Hydra callback that ends a sweep with where its jobs are and the command that reports on them."""

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SweepEndLine(Callback):
    """After `-m`, one line: the sweep folder and `report`'s command for it (Hydra's basic launcher names neither).
    None when the sweep ran no job (a search whose study was already complete): `report` would find nothing there.

    Light on purpose: Hydra loads it before any job, and the early answers must not wait for torch.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(config.hydra.sweep.dir)
        jobs = list(folder.glob("*/.hydra/overrides.yaml")) if folder.is_dir() else []
        if not jobs:
            return
        # A search's folder holds this command's trials; its `best:` line speaks for the whole study.
        which = "this command's trials" if "Optuna" in str(config.hydra.sweeper.get("_target_", "")) else "jobs"
        print(f"sweep done, {which} in {folder}; tables and curves: python -m mnist_lightning.report {folder}")
