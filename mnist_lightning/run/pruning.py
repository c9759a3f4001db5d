"""Pruning a search trial: after every validation the trial reports its held-out accuracy to its Optuna study,
and stops when the study's pruner says it is clearly behind the others (hydra_plugins/mnist_optuna_sweeper).

Written here rather than taken from optuna-integration: its PyTorchLightningPruningCallback (5.0.0) subclasses
`lightning.pytorch`'s Callback, which the `pytorch_lightning` Trainer this project uses does not accept.
"""

from pathlib import Path

import pytorch_lightning as pl

# optuna is imported where it is used: it comes with the [sweep] extra, and train imports this module.


def open_storage(url: str) -> object:
    """An SQLAlchemy URL as is; journal:///<file> as Optuna's journal file (one file, no database)."""
    import optuna

    if url.startswith("journal:///"):
        path = Path(url.removeprefix("journal:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url


class PruneBehind(pl.Callback):
    """Reports `monitor` after each validation (step = epoch from 1) and raises optuna.TrialPruned when told."""

    def __init__(self, storage: str, study: str, number: int, pruner: object, monitor: str = "val/acc") -> None:
        import optuna

        # The pruner decides here, in the trial's own process: the study is loaded with the search's pruner.
        loaded = optuna.load_study(study_name=study, storage=open_storage(storage), pruner=pruner)
        trial_id = loaded._storage.get_trial_id_from_study_id_trial_number(loaded._study_id, number)
        self.trial, self.monitor = optuna.trial.Trial(loaded, trial_id), monitor
        # val/acc_best exists only once the run ends (record.py): the trial reports the best val/acc so far instead,
        # from what it reported before it was requeued and resumed too
        self.logged = monitor.removesuffix("_best")
        reported = loaded._storage.get_trial(trial_id).intermediate_values.values()
        self.best = max(reported, default=float("-inf"))
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.logged not in trainer.callback_metrics:
            return
        epoch = trainer.current_epoch + 1
        should_prune, value = False, float("nan")
        if trainer.is_global_zero:
            value = float(trainer.callback_metrics[self.logged])
            if self.logged != self.monitor:
                value = self.best = max(self.best, value)
            self.trial.report(value, step=epoch)
            should_prune = self.trial.should_prune()
        if trainer.strategy.broadcast(should_prune):  # every DDP process stops together
            import optuna

            self.pruned_at = epoch
            raise optuna.TrialPruned(f"after epoch {epoch} ({self.monitor} {value:.4f}), by the study's pruner")
