"""The DataModule on the real bundled MNIST: verified, normalized, complete, seeded."""

import shutil
from pathlib import Path

import pytest
import torch

from mnist_lightning.base.errors import UserError
from mnist_lightning.base.locations import BUNDLED_DATA_DIR
from mnist_lightning.data import MNISTDataModule, mnist
from mnist_lightning.data.loader import EpochSampler, TensorLoader
from mnist_lightning.data.mnist import ensure_mnist


@pytest.fixture(scope="module")
def datamodule() -> MNISTDataModule:
    dm = MNISTDataModule(batch_size=28, seed=3)
    dm.prepare_data()
    dm.setup()
    return dm


def test_sizes_shapes_and_dtypes(datamodule):
    images, labels = datamodule.train_set
    assert images.shape == (60_000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (60_000,) and labels.dtype == torch.int64
    assert datamodule.test_set[0].shape == (10_000, 1, 28, 28)
    # The seed validates on the test set by default.
    assert datamodule.val_set[0] is datamodule.test_set[0]
    test_counts = torch.bincount(datamodule.test_set[1]).tolist()
    assert test_counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_training_images_are_normalized(datamodule):
    images = datamodule.train_set[0]
    assert images.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert images.std().item() == pytest.approx(1.0, abs=1e-3)


def test_batches_are_slices_with_the_configured_size(datamodule):
    loader = datamodule.train_dataloader()
    images, labels = next(iter(loader))
    assert images.shape == (28, 1, 28, 28) and labels.shape == (28,)
    assert len(loader) == 2143  # ceil(60,000 / 28): the last batch keeps the remaining 24 images


def test_shuffling_is_seeded_and_changes_every_epoch():
    def order(seed: int, epoch: int) -> torch.Tensor:
        sampler = EpochSampler(60_000, shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        return sampler.indices()

    assert torch.equal(order(1, 0), order(1, 0))
    assert not torch.equal(order(1, 0), order(2, 0))
    assert not torch.equal(order(1, 0), order(1, 1))
    assert torch.equal(order(1, 5).sort().values, torch.arange(60_000))


def test_every_test_image_is_scored_once(datamodule):
    loader = datamodule.test_dataloader()
    seen = torch.cat([labels for _, labels in loader])
    assert len(seen) == 10_000 and torch.equal(seen, datamodule.test_set[1])
    assert [
        len(labels)
        for _, labels in TensorLoader(*datamodule.test_set, batch_size=3000, sampler=EpochSampler(10_000, False))
    ] == [3000, 3000, 3000, 1000]


def test_val_size_holds_out_training_images():
    dm = MNISTDataModule(val_size=5000)
    dm.setup()
    assert len(dm.train_set[1]) == 55_000 and len(dm.val_set[1]) == 5000
    assert not dm.val_is_test
    # Held-out images are training images, not test images, and leave the training set.
    train_rows = {row.numpy().tobytes() for row in dm.train_set[0][:2000]}
    assert not any(row.numpy().tobytes() in train_rows for row in dm.val_set[0])


def test_batch_size_zero_is_refused():
    with pytest.raises(UserError, match="data.batch_size must be a positive integer"):
        MNISTDataModule(batch_size=0)


def copy_bundled_gz(target: Path) -> Path:
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (BUNDLED_DATA_DIR / "MNIST" / "raw").glob("*.gz"):
        shutil.copy(gz, raw)
    return raw


def test_bundled_gz_files_are_unpacked_and_verified(tmp_path):
    raw = ensure_mnist(copy_bundled_gz(tmp_path).parents[1], download=False)
    assert (raw / "train-images-idx3-ubyte").stat().st_size == 47_040_016


def test_damaged_file_is_refused(tmp_path):
    raw = copy_bundled_gz(tmp_path)
    ensure_mnist(tmp_path, download=False)
    damaged = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(UserError, match="does not match its SHA-256"):
        ensure_mnist(tmp_path, download=False)


def test_a_data_folder_that_does_not_exist_is_refused_before_anything_is_created_or_downloaded(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "_download", lambda data_dir: pytest.fail("tried a download"))
    for download in (True, False):
        with pytest.raises(UserError, match=f"data folder {tmp_path / 'typo'} does not exist: give the folder"):
            ensure_mnist(tmp_path / "typo", download=download)
    assert not (tmp_path / "typo").exists()


def test_the_user_cache_is_made_on_demand_not_refused(tmp_path, monkeypatch):
    # An installed package's default folder: the project's own, so a missing one is made (then filled or downloaded).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "BUNDLED_DATA_DIR", tmp_path / "no_bundled_copy")  # a package built without it
    monkeypatch.setattr(mnist, "_download", lambda data_dir: None)  # as if it failed quietly: the files stay missing
    with pytest.raises(UserError, match="MNIST files missing in"):
        ensure_mnist(mnist.user_cache_dir(), download=True)
    assert mnist.user_cache_dir().is_dir()


def test_missing_files_without_download_name_the_folder(tmp_path):
    with pytest.raises(UserError, match=str(tmp_path / "MNIST" / "raw")):
        ensure_mnist(tmp_path, download=False)


def test_tensors_live_on_the_requested_device_and_batches_stay_there():
    dm = MNISTDataModule(device="cpu")
    dm.prepare_data()  # unpacks the bundled .gz files in a fresh clone, as Lightning does before setup
    dm.setup()
    images, labels = next(iter(dm.train_dataloader()))
    assert dm.train_set[0].device.type == images.device.type == labels.device.type == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_a_gpu_the_whole_dataset_and_every_batch_are_on_the_gpu():
    dm = MNISTDataModule(device="cuda")
    dm.prepare_data()  # a fresh clone (the first GPU sitting) has only the .gz files: setup alone failed there
    dm.setup()
    assert dm.train_set[0].is_cuda and dm.test_set[1].is_cuda
    images, labels = next(iter(dm.train_dataloader()))
    assert images.is_cuda and labels.is_cuda and images.shape == (28, 1, 28, 28)


def test_the_early_checks_count_of_training_images_is_mnists():
    from mnist_lightning.base.value_ranges import MNIST_TRAINING_IMAGES
    from mnist_lightning.data.mnist import TRAIN_SIZE

    assert MNIST_TRAINING_IMAGES == TRAIN_SIZE == 60_000


def test_a_data_device_torch_does_not_know_or_cannot_use_is_one_line():
    from mnist_lightning.base.errors import UserError
    from mnist_lightning.data.datamodule import data_device

    assert data_device(None) is None and data_device("cpu") == torch.device("cpu")
    for device, message in (("gpu", "is not a device torch knows"), ("meta", "the data lives on cpu, cuda")):
        with pytest.raises(UserError, match=f"data.device={device}.*{message}"):
            data_device(device)
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="torch sees no CUDA GPU here"):
            data_device("cuda")


def test_a_failed_download_leaves_no_empty_mnist_folder_behind(tmp_path, monkeypatch):
    # torchvision makes MNIST/raw before it tries its mirrors (none answers here): an empty folder was left
    def no_mirror_answers(root, download):
        (Path(root) / "MNIST" / "raw").mkdir(parents=True)
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(mnist.torchvision.datasets, "MNIST", no_mirror_answers)
    with pytest.raises(UserError, match="the download failed: put the four MNIST files"):
        ensure_mnist(tmp_path, download=True)
    assert list(tmp_path.iterdir()) == []
