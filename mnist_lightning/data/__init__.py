"""The data pipeline: the MNIST files (read and verified once), normalization, the DataModule, loader, augmentation."""

from mnist_lightning.data.datamodule import MNISTDataModule  # the `_target_` of conf/data/mnist.yaml

__all__ = ["MNISTDataModule"]
