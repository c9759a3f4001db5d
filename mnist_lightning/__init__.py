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
