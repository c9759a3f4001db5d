"""The package outside its clone: a wheel that carries its configs and MNIST, run from another folder, with a
user's own config folder; and the user cache where the bundled copy cannot be unpacked in place."""

import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mnist_lightning.data.mnist as data
from mnist_lightning.data.mnist import MNIST_SHA256, default_data_dir, ensure_mnist

ROOT = Path(__file__).resolve().parents[1]
USER_NET = '''
from torch import nn


class SmallMLP(nn.Module):
    """A user's own network: flatten, one hidden layer."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.layers(x)
'''
USER_MODEL_CONFIG = """
dropout: 0.0
max_params: 20000
channels_last: false
compile: false
net:
  _target_: user_nets.SmallMLP
  hidden: 16
"""


def build_wheel(tmp_path: Path) -> Path:
    """The wheel, built from a copy of the files git tracks (what a clone has; a build in the clone itself would
    leave build/ there, and untracked files would hide a file missing from the repository)."""
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and not name.startswith(("outputs/", "tests/", "docs/")):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, source / name)
    # Without build isolation where this environment has a setuptools that can build it: no download needed.
    has_setuptools = importlib.util.find_spec("setuptools") is not None
    isolation = ["--no-build-isolation"] if has_setuptools and _setuptools_version() >= (77,) else []
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(tmp_path / "dist"), str(source)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return next((tmp_path / "dist").glob("mnist_lightning-*.whl"))


def _setuptools_version() -> tuple[int, ...]:
    import setuptools

    return (int(setuptools.__version__.split(".")[0]),)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel installed (its dependencies are this environment's) into a folder of its own."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    site = tmp_path / "site"
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(build_wheel(tmp_path))]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return site


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m <args>` in `cwd` with the installed wheel first on the path, not the clone."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": str(cwd)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.system
def test_the_wheel_trains_from_another_folder_and_writes_outputs_there(installed, tmp_path):
    where = run_installed(installed, tmp_path, "-c", "import mnist_lightning; print(mnist_lightning.__file__)")
    assert where.stdout.strip().startswith(str(installed)), where.stderr  # the wheel's copy, not the clone
    # Fewer batches than Lightning's logging interval, on a machine that may have SLURM's srun: Lightning warns about
    # both, neither applies, and the package filters them (mnist_lightning/__init__.py).
    short = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1"]
    result = run_installed(installed, tmp_path, "-m", "mnist_lightning.train", *short, "trainer.limit_test_batches=1")
    assert result.returncode == 0, result.stderr
    (metrics_file,) = (tmp_path / "outputs").glob("*/*/metrics.json")
    metrics = json.loads(metrics_file.read_text())
    assert metrics["status"] == "ok" and metrics["params"] == 17_216 and metrics["test/images"] == 500
    assert metrics["provenance"]["git_commit"] is None  # the current folder's repository is not the code's
    version = importlib.metadata.version("mnist-lightning")  # this clone's, from the same pyproject.toml
    assert metrics["provenance"]["version"] == version  # what names the code instead
    output = result.stdout + result.stderr
    for filtered in ("smaller than the logging interval", "`srun` command is available", "LeafSpec", "litlogger"):
        assert filtered not in output, output


@pytest.mark.system
def test_the_wheel_serves_its_drawing_page_from_another_folder(installed, trained_sweep, tmp_path):
    # The page is package data (inference/page/index.html): a wheel without it would serve nothing at GET /
    import urllib.request

    from conftest import free_port, wait_until_answers

    port, checkpoint = free_port(), trained_sweep / "0" / "checkpoints" / "last.ckpt"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(installed), "HOME": str(tmp_path)}
    command = [sys.executable, "-m", "mnist_lightning.serve", f"ckpt_path={checkpoint}", f"port={port}"]
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_answers(f"http://127.0.0.1:{port}", server)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
        assert 'id="pad"' in page and f"const limit = {10 * 2**20};" in page  # the page, filled in by the server
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.system
def test_a_users_own_config_folder_adds_a_network_defined_in_the_users_module(installed, tmp_path):
    (tmp_path / "user_nets.py").write_text(USER_NET)
    (tmp_path / "my_conf" / "model").mkdir(parents=True)
    (tmp_path / "my_conf" / "model" / "mlp.yaml").write_text(USER_MODEL_CONFIG)
    args = ["-m", "mnist_lightning.train", "--config-dir", "my_conf", "model=mlp", "trainer.fast_dev_run=true"]
    result = run_installed(installed, tmp_path, *args)
    assert result.returncode == 0, result.stderr
    (metrics_file,) = (tmp_path / "outputs").glob("*/*/metrics.json")
    assert json.loads(metrics_file.read_text())["params"] == 784 * 16 + 16 + 16 * 10 + 10
    unknown = run_installed(installed, tmp_path, "-m", "mnist_lightning.train", "--config-dir", "my_conf", "model=nope")
    assert unknown.returncode == 2 and "there is no model 'nope'" in unknown.stderr
    assert {"mlp", "micro", "reference"} <= set(unknown.stderr.split("choose one of ")[1].strip().split(", "))


def test_a_read_only_bundled_copy_is_unpacked_into_the_user_cache(tmp_path, monkeypatch):
    bundled = tmp_path / "bundled"
    (bundled / "MNIST" / "raw").mkdir(parents=True)
    for gz in (data.BUNDLED_DATA_DIR / "MNIST" / "raw").glob("*.gz"):
        shutil.copy(gz, bundled / "MNIST" / "raw")
    monkeypatch.setattr(data, "BUNDLED_DATA_DIR", bundled)
    monkeypatch.setattr(data.os, "access", lambda path, mode: False)  # as for a user of a system-wide install
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache" / "mnist-lightning"
    raw = ensure_mnist(default_data_dir(), download=False)
    assert sorted(p.name for p in raw.iterdir()) == sorted(MNIST_SHA256)  # unpacked there, checksums checked
    images, labels = data.load_normalized(default_data_dir(), train=False)
    assert images.shape == (10_000, 1, 28, 28) and torch.bincount(labels).sum() == 10_000


def test_every_config_folder_is_a_listed_package_so_the_wheel_carries_it():
    import tomllib

    packages = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = [p.relative_to(ROOT / "conf") for p in (ROOT / "conf").rglob("*") if p.is_dir() and "__" not in p.name]
    missing = {"mnist_lightning.conf." + ".".join(f.parts) for f in folders} - packages
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


# Run a command as after `pip install ".[export]"`, without the [sweep] extra: Optuna cannot be imported.
WITHOUT_OPTUNA = """
import runpy, sys
sys.modules["optuna"] = None
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def test_without_the_sweep_extra_commands_run_quietly_and_a_search_says_what_to_install(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", WITHOUT_OPTUNA, "mnist_lightning.train", *args]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    # Hydra imports every plugin module as it starts: the sweeper's, importing Optuna, printed twelve lines of
    # "Error importing ... Plugin is incompatible with this Hydra version or buggy" before every command.
    shown = run("--cfg", "job")
    assert shown.returncode == 0 and "Error importing" not in shown.stderr, shown.stderr
    # A search failed in Hydra's "Unknown plugin class" traceback.
    search = run("hparams_search=optuna")
    assert search.returncode == 2 and "Traceback" not in search.stderr, search.stderr
    assert search.stderr.strip() == (
        "error: hparams_search=optuna searches with Optuna, which is not installed: "
        'it comes with pip install -e ".[sweep]"'
    )
