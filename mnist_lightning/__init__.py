"""mnist-lightning: a compact CNN trained on MNIST with PyTorch Lightning and Hydra."""

import logging
import warnings

# Library noise a user can do nothing about, kept off every entry point's terminal: Lightning's advertisement for
# its cloud logger and model registry, printed by Trainers and checkpoints, and a deprecation raised inside
# Lightning's own code.
_ADVERTS = ("litlogger", "litmodels")
logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(
    lambda record: not any(advert in str(record.msg) for advert in _ADVERTS)
)
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
# On a machine with SLURM's commands (a login node, scripts/local_slurm.sh) Lightning asks every run outside a job
# to use srun; a run on the machine itself is meant as it is.
warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system but is not used")
# conf/hydra/launcher/submitit_*.yaml replace the plugin's configs of the same name, which Hydra still uses to
# check them (the keys are the plugin's): its notice that this matching will go is for the plugin's authors.
warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema with the same name")
# Under DDP Lightning suggests sync_dist=True for epoch-level logs; ours come from torchmetrics' compute(),
# which has already gathered every process's state, so syncing again would only average equal numbers. (Here, not
# in train.py: a submitit job unpickles the task function without importing train.py as a module first.)
warnings.filterwarnings("ignore", message=".*sync_dist=True.*when logging on epoch level.*")
# A run of fewer batches than trainer.log_every_n_steps (a short check with trainer.limit_train_batches) is told it
# will log no step: what the project logs and reports is per epoch (only a step schedule's lr is logged per step).
warnings.filterwarnings("ignore", message=r"The number of training batches \(\d+\) is smaller than the logging")
# A resume writes into a new run folder by design, and Lightning's checkpoint callbacks then say they do not reload
# their scores: BestCheckpoint restores the best score itself (run/checkpoints.py), and last.ckpt starts anew there.
warnings.filterwarnings("ignore", message=r"The dirpath has changed from")


def _expose_the_sweeper_plugin() -> None:
    """Let Hydra find hydra_plugins/mnist_optuna_sweeper in an editable install (`pip install -e .`).

    Hydra lists its plugins with pkgutil, which cannot list what setuptools' editable import hook provides; a
    wheel puts the folder in site-packages, where this changes nothing. Runs before any command starts Hydra.
    The package's path becomes a plain list: a namespace package's own path is recomputed from sys.path whenever
    sys.path changes, which dropped the added folder, so a library that changed sys.path (a test process that had
    imported many) before Hydra's first plugin scan hid the sweeper ("Could not find 'hydra/sweeper/mnist_optuna'").
    """
    from pathlib import Path

    try:
        import hydra_plugins
    except ImportError:  # no Hydra plugin installed at all
        return
    folder = Path(__file__).resolve().parent.parent / "hydra_plugins"
    if (folder / "mnist_optuna_sweeper").is_dir():  # also where the folder is on the path now (the current folder)
        paths = list(hydra_plugins.__path__)
        hydra_plugins.__path__ = paths if str(folder) in paths else [*paths, str(folder)]


_expose_the_sweeper_plugin()
