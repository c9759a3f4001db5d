"""The code stays clean: ruff's lint and format checks, as configured in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff(command):
    # ruff comes with the [dev] extra, in the same environment as pytest.
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "mnist_lightning", "hydra_plugins", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
