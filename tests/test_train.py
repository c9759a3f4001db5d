"""A short real training through the command line, with the project's composed configs: the shared sweep's job 0."""

import json


def test_a_few_hundred_steps_exceed_95_percent(trained_sweep):
    run = trained_sweep / "0"  # seed 1: 300 steps of batch 28 (8,400 images), one epoch (conftest.py)
    written = json.loads((run / "metrics.json").read_text())
    # Scored on all 10,000 test images.
    assert written["status"] == "ok" and written["test/acc"] > 0.95 and written["test/images"] == 10_000
    assert written["params"] == 17_216 and written["train/images"] == 300 * 28
    assert written["epochs"] == 1 and [row["epoch"] for row in written["history"]] == [1]
    # Validation scored the test set with the final weights, so it equals the final test, image for image.
    assert written["val_is_test"] and written["history"][0]["val/acc"] == written["test/acc"]
    assert (run / "checkpoints" / "last.ckpt").exists()
