"""Long checks, run with `pytest -m slow`: the full seed recipe (about 25-60 minutes on 2 CPU cores)."""

import json

import pytest
from conftest import run_module


@pytest.mark.slow
def test_the_seed_recipe_reaches_99_4_percent(tmp_path):
    result = run_module(
        "mnist_lightning.train", "seed=1", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path, timeout=4 * 3600
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs"] == 20 and metrics["params"] == 17_216
    # Seed 1 of the reference runs reached this; one seed can sit a few hundredths under the 3-seed mean.
    assert metrics["test/acc"] >= 0.994
