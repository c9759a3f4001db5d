"""MNISTDataModule: bundled copy -> verified -> normalized tensors -> batches."""

import contextlib
import gzip
import hashlib
import io
import logging
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
import torch
import torchvision
from torch import Tensor

from mnist_lightning.errors import UserError
from mnist_lightning.loader import EpochSampler, TensorLoader
from mnist_lightning.locations import BUNDLED_DATA_DIR, INSTALLED

log = logging.getLogger(__name__)

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the 60,000 training images' pixels, after dividing by 255
TRAIN_SIZE, TEST_SIZE = 60_000, 10_000

# SHA-256 of the uncompressed IDX files, the names torchvision reads in <data_dir>/MNIST/raw/. Checking
# the uncompressed bytes accepts both the bundled .gz files and a copy torchvision downloaded.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def _gunzip(source: Path, target: Path) -> None:
    """Decompress `source` into `target` through a temporary file, so a kill never leaves half a file."""
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        with gzip.open(source, "rb") as compressed:
            data = compressed.read()
    except (OSError, EOFError, zlib.error) as error:
        raise UserError(f"{source} is damaged ({error}); copy it again from the project's data/MNIST/raw/") from error
    try:
        partial.write_bytes(data)
        partial.replace(target)
    except PermissionError as error:
        raise UserError(
            f"cannot write into {target.parent}: make it writable, or unpack the .gz files there"
        ) from error


def _download(data_dir: Path) -> None:
    """Try torchvision's download into data_dir/MNIST/raw; one clear error when it fails."""
    raw = data_dir / "MNIST" / "raw"
    log.info(f"MNIST is not in {raw}; trying torchvision's download")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # torchvision prints every failed mirror
            torchvision.datasets.MNIST(data_dir, download=True)
    except Exception as error:
        raise UserError(
            f"MNIST is not in {raw} and the download failed: put the four MNIST files "
            f"({', '.join(f + '.gz' for f in MNIST_SHA256)}) there, e.g. from the project's data/MNIST/raw/"
        ) from error


def user_cache_dir() -> Path:
    """Where an installed package (or a read-only copy) unpacks the bundled MNIST: ~/.cache/mnist-lightning."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist-lightning"


def default_data_dir() -> Path:
    """The bundled copy's folder in a clone; for an installed package (or a read-only copy) the user cache,
    which ensure_mnist fills from the bundled .gz files with the same checksum checks. An install is not
    written into: 55 MB unpacked in site-packages would outlive `pip uninstall`."""
    raw = BUNDLED_DATA_DIR / "MNIST" / "raw"
    if not INSTALLED and (all((raw / name).exists() for name in MNIST_SHA256) or os.access(raw, os.W_OK)):
        return BUNDLED_DATA_DIR
    return user_cache_dir()


def ensure_mnist(data_dir: str | Path, download: bool = True) -> Path:
    """Make sure the four IDX files are in data_dir/MNIST/raw and match their SHA-256; return that folder.

    Missing files are unpacked from the .gz files in that folder; the user cache is filled from the bundled
    copy's. A folder the user named (data.data_dir) is used as given.
    """
    raw = Path(data_dir) / "MNIST" / "raw"
    sources = [raw] + ([BUNDLED_DATA_DIR / "MNIST" / "raw"] if Path(data_dir) == user_cache_dir() else [])
    for name in MNIST_SHA256:
        source = next((folder / f"{name}.gz" for folder in sources if (folder / f"{name}.gz").exists()), None)
        if not (raw / name).exists() and source is not None:
            raw.mkdir(parents=True, exist_ok=True)
            _gunzip(source, raw / name)
    missing = [name for name in MNIST_SHA256 if not (raw / name).exists()]
    if missing and download and Path(data_dir).exists() and not os.access(data_dir, os.W_OK):
        raise UserError(f"MNIST is not in {raw} and {data_dir} is not writable: put the files there or fix its rights")
    if missing and download:
        _download(Path(data_dir))
        missing = [name for name in MNIST_SHA256 if not (raw / name).exists()]
    if missing:
        raise UserError(f"MNIST files missing in {raw}: {', '.join(missing)} (.gz or unpacked)")
    for name, expected in MNIST_SHA256.items():
        if hashlib.sha256((raw / name).read_bytes()).hexdigest() != expected:
            raise UserError(
                f"{raw / name} does not match its SHA-256 (damaged or not MNIST): delete it and "
                f"restore {name}.gz from the project's data/MNIST/raw/"
            )
    return raw


def load_normalized(data_dir: str | Path, train: bool) -> tuple[Tensor, Tensor]:
    """One MNIST split as (N, 1, 28, 28) float32 images normalized with MNIST_MEAN/STD, and (N,) int64 labels."""
    split = torchvision.datasets.MNIST(data_dir, train=train, download=False)
    images = (split.data.unsqueeze(1).float() / 255 - MNIST_MEAN) / MNIST_STD
    return images, split.targets.long()


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
        if not isinstance(batch_size, int) or batch_size < 1:
            raise UserError(f"data.batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(eval_batch_size, int) or eval_batch_size < 1:
            raise UserError(f"data.eval_batch_size must be a positive integer, got {eval_batch_size!r}")
        if not isinstance(val_size, int) or not 0 <= val_size < TRAIN_SIZE:
            raise UserError(f"data.val_size must be an integer in [0, {TRAIN_SIZE}), got {val_size!r}")
        if batch_size > TRAIN_SIZE - val_size:
            raise UserError(
                f"data.batch_size={batch_size} is larger than the {TRAIN_SIZE - val_size:,} training images"
            )
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.val_size, self.seed, self.download = val_size, seed, download
        self.device = torch.device(device) if device else None  # None: the Trainer's device
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
