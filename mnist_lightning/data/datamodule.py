"""MNISTDataModule: verified files -> normalized tensors on the training device -> batches."""

from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import Tensor

from mnist_lightning.base.errors import UserError
from mnist_lightning.base.value_ranges import positive_integer_error, val_size_error
from mnist_lightning.data.loader import EpochSampler, TensorLoader
from mnist_lightning.data.mnist import TRAIN_SIZE, default_data_dir, ensure_mnist, load_normalized


def data_device(device: str | None) -> torch.device | None:
    """data.device as a torch device, or one clear line: a name torch does not know (gpu), or CUDA with no GPU."""
    if not device:
        return None
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise UserError(
            f"data.device={device} is not a device torch knows: give cpu, cuda (or cuda:N) or null"
        ) from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"data.device={device}, but torch sees no CUDA GPU here: give cpu or null")
    if chosen.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"data.device={device}: the data lives on cpu, cuda (or cuda:N) or mps, or null")
    return chosen


class MNISTDataModule(pl.LightningDataModule):
    """Serves MNIST from tensors decoded once; validates on the test set unless `val_size` holds out images."""

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 28,
        eval_batch_size: int = 1000,
        val_size: int = 0,
        seed: int = 0,
        download: bool = True,
        device: str | None = None,
        augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
    ) -> None:
        super().__init__()
        for key, value in (("data.batch_size", batch_size), ("data.eval_batch_size", eval_batch_size)):
            if message := positive_integer_error(key, value):
                raise UserError(message)
        if message := val_size_error(val_size):  # the early check's rule, for a value it could not see
            raise UserError(message)
        if batch_size > TRAIN_SIZE - val_size:
            raise UserError(
                f"data.batch_size={batch_size} is larger than the {TRAIN_SIZE - val_size:,} training images"
            )
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.val_size, self.seed, self.download = val_size, seed, download
        self.device = data_device(device)  # None: the Trainer's device
        # Training batches only, e.g. augment.RandomAffine. data/augment=none composes to {}: no augmentation.
        if augment and not callable(augment):  # settings left without a _target_ to build them with
            raise UserError(
                f"data.augment holds settings but nothing to build ({dict(augment)}): choose data/augment=affine "
                "or affine_light, then set data.augment.degrees and data.augment.translate"
            )
        self.augment = augment or None
        self.train_set: tuple[Tensor, Tensor] | None = None
        self.val_set: tuple[Tensor, Tensor] | None = None
        self.test_set: tuple[Tensor, Tensor] | None = None

    @property
    def val_is_test(self) -> bool:
        """True when validation scores the 10,000 test images (the seed's habit, and the default)."""
        return self.val_size == 0

    def prepare_data(self) -> None:
        ensure_mnist(self.data_dir, self.download)

    def setup(self, stage: str | None = None) -> None:
        # The whole dataset (about 220 MB as float32) lives where the model does, so on a GPU every batch
        # is a gather on the device and nothing in the training step waits for the host.
        device = self.device or (self.trainer.strategy.root_device if self.trainer else torch.device("cpu"))
        # The test images are decoded only when something scores them: a search trial that validates on
        # held-out training images and skips the final test (test=false) never has them in memory.
        if self.test_set is None and (self.val_is_test or stage in (None, "test", "predict")):
            self.test_set = tuple(t.to(device) for t in load_normalized(self.data_dir, train=False))
        if self.train_set is not None:
            return
        train_images, train_labels = (t.to(device) for t in load_normalized(self.data_dir, train=True))
        if self.val_is_test:
            self.train_set, self.val_set = (train_images, train_labels), self.test_set
        else:
            # A fixed split (seed 0), so the held-out images are the same whatever the run's seed.
            order = torch.randperm(TRAIN_SIZE, generator=torch.Generator().manual_seed(0)).to(device)
            val, train = order[: self.val_size], order[self.val_size :]
            self.train_set = train_images[train], train_labels[train]
            self.val_set = train_images[val], train_labels[val]

    def _loader(self, tensors: tuple[Tensor, Tensor] | None, batch_size: int, train: bool) -> TensorLoader:
        if tensors is None:
            raise RuntimeError("MNISTDataModule.setup() must run before asking for a loader")
        rank, world_size = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        sampler = EpochSampler(
            len(tensors[1]), shuffle=train, seed=self.seed, rank=rank, world_size=world_size, even=train
        )
        return TensorLoader(*tensors, batch_size=batch_size, sampler=sampler, augment=self.augment if train else None)

    def train_dataloader(self) -> TensorLoader:
        return self._loader(self.train_set, self.batch_size, train=True)

    def val_dataloader(self) -> TensorLoader:
        return self._loader(self.val_set, self.eval_batch_size, train=False)

    def test_dataloader(self) -> TensorLoader:
        return self._loader(self.test_set, self.eval_batch_size, train=False)
