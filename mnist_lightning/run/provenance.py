"""What a reader needs to trust a number: code version, library versions, hardware."""

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch

from mnist_lightning.base.cpu_flags import cpu_flags
from mnist_lightning.base.locations import PROJECT_ROOT


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what `platform` knows elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


CODE = ("mnist_lightning/", "conf/", "hydra_plugins/", "pyproject.toml")


def is_code(path: str) -> bool:
    """Whether an untracked path (relative to the clone) can change what a run computes."""
    return path.startswith(CODE) or path.endswith(".py")


def _git_state() -> tuple[str | None, bool | None]:
    if PROJECT_ROOT is None:  # an installed package: no clone of ours, and the current folder's repository is not
        return None, None
    status = _git("status", "--porcelain", "--untracked-files=all")  # the files in an untracked folder, by name
    if status is None:
        return _git("rev-parse", "HEAD"), None
    # Changed tracked files count, and untracked files in the code (a new module changes what runs), including any .py
    # file: `python -m` puts the folder it runs from on the import path, so `model.net._target_=user_nets.X` (or
    # `my_nets.small.X`, a folder) trains a network no commit holds. A CSV or a notebook left in the clone does not.
    changes = [line for line in status.splitlines() if not line.startswith("?? ") or is_code(line[3:])]
    return _git("rev-parse", "HEAD"), bool(changes)


# Read once, when the process imports the project: the code it runs is what was on disk then, also for the
# later jobs of a long multirun, while the tree may move on.
GIT_COMMIT, GIT_DIRTY = _git_state()


def package_version() -> str | None:
    """This project's installed version: with no git (a wheel), the one record of the code a run was made with."""
    try:
        return importlib.metadata.version("mnist-lightning")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return None


def provenance() -> dict[str, object]:
    """Git commit and dirtiness (when this process started), library versions, and the CPU/GPU it runs on."""
    return {
        "version": package_version(),
        "git_commit": GIT_COMMIT,
        "git_dirty": GIT_DIRTY,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": pl.__version__,
        "hydra": hydra.__version__,
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
