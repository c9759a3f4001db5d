"""The sweeper's settings, as `hydra.sweeper.*` (defaults here; the search presets in conf/hparams_search/)."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.mnist_optuna_sweeper.sweeper.OptunaSweeper"
    # Where the study lives: an SQLAlchemy URL (sqlite:///..., postgresql+psycopg://user@host/db) or a journal
    # file (journal:///path/to/study.log). The default, a SQLite file under outputs/, keeps every search, so the
    # same command resumes it; one database server shares a study between machines.
    storage: str = "sqlite:///outputs/optuna.db"
    study_name: str = "mnist"
    n_trials: int = 20  # finished trials (complete or pruned) the study should hold, all workers together
    n_jobs: int = 1  # trials launched at once by this worker (with a parallel launcher such as joblib)
    direction: str = "maximize"
    sampler: Any = field(default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "seed": 1234})
    # Stops trials that are clearly behind after an epoch (their held-out accuracy is reported after each
    # validation); null: every trial runs to its end.
    pruner: Any = None
    params: dict[str, str] = field(
        default_factory=dict
    )  # key: interval(a, b) | choice(x, y) | range(a, b) | tag(log, ...)
