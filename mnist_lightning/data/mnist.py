"""The MNIST files and the normalization: read and verified in one place, normalized with the one mean and std.

The bundled copy (data/MNIST/raw/*.gz) is unpacked on first use and every file is checked against its SHA-256.
"""

import contextlib
import functools
import gzip
import hashlib
import io
import logging
import os
import zlib
from pathlib import Path

import torchvision
from torch import Tensor

from mnist_lightning.base.errors import UserError
from mnist_lightning.base.locations import BUNDLED_DATA_DIR, INSTALLED

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
        for made in (raw, raw.parent):  # the empty folders torchvision made for it: not left behind
            with contextlib.suppress(OSError):
                made.rmdir()
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
    if Path(data_dir) == user_cache_dir():  # the project's own folder, made on demand (a download lands there)
        Path(data_dir).mkdir(parents=True, exist_ok=True)
    if missing and not Path(data_dir).is_dir():  # a folder the user named: most often a typo, so nothing is made there
        raise UserError(
            f"data folder {data_dir} does not exist: give the folder that holds MNIST/raw/ "
            "(or create it, and MNIST is downloaded into it)"
        )
    if missing and download and not os.access(data_dir, os.W_OK):
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


def normalize(pixels: Tensor) -> Tensor:
    """Pixels in [0, 1] -> the network's input scale (mean 0, std 1 over the training images)."""
    return (pixels - MNIST_MEAN) / MNIST_STD


def denormalize(x: Tensor) -> Tensor:
    """The network's input scale -> pixels in [0, 1] (not clamped), for pictures of what it saw."""
    return x * MNIST_STD + MNIST_MEAN


def mnist_split(data_dir: str | Path | None, train: bool, verify: bool = True) -> tuple[Tensor, Tensor]:
    """One split as stored: (N, 28, 28) uint8 images and (N,) int64 labels, from the bundled copy by default.

    `verify` unpacks and checks the files first (ensure_mnist); the DataModule's prepare_data has already done so.
    """
    data_dir = data_dir or default_data_dir()
    if verify:
        ensure_mnist(data_dir)
    split = torchvision.datasets.MNIST(data_dir, train=train, download=False)
    return split.data, split.targets.long()


def load_normalized(data_dir: str | Path, train: bool) -> tuple[Tensor, Tensor]:
    """One MNIST split as (N, 1, 28, 28) float32 images normalized with MNIST_MEAN/STD, and (N,) int64 labels.

    Decoded once per process and folder: the jobs of a sweep in one process (and the tests) share the tensors,
    which nothing modifies in place (batches are gathers, augmentation makes new tensors).
    """
    return _decoded(str(Path(data_dir).resolve()), train)


@functools.lru_cache(maxsize=4)
def _decoded(data_dir: str, train: bool) -> tuple[Tensor, Tensor]:
    images, labels = mnist_split(data_dir, train, verify=False)  # prepare_data verified them
    return normalize(images.unsqueeze(1).float() / 255), labels
