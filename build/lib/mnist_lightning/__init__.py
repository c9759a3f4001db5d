"""mnist-lightning: a compact CNN trained on MNIST with PyTorch Lightning and Hydra."""

import logging
import warnings

# Library noise a user can do nothing about, kept off every entry point's terminal: Lightning's advertisement for
# its cloud logger, printed by every Trainer, and a deprecation raised inside Lightning's own code.
logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(lambda record: "litlogger" not in str(record.msg))
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
