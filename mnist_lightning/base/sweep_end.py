"""A Hydra callback that ends a sweep with where its jobs are and the command that reports on them."""

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SweepEndLine(Callback):
    """After `-m`, one line: the sweep folder and `report`'s command for it (Hydra's basic launcher names neither).

    Light on purpose: Hydra loads it before any job, and the early answers must not wait for torch.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        folder = config.hydra.sweep.dir
        print(f"sweep done, jobs in {folder}; tables and curves: python -m mnist_lightning.report {folder}")
