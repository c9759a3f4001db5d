"""evaluate reproduces a run's test accuracy from its checkpoint; predict classifies image files."""

import json
import re

import numpy as np
import pytest
import torchvision
from conftest import run_here
from PIL import Image

from mnist_lightning.base.locations import BUNDLED_DATA_DIR


def test_evaluate_matches_the_training_runs_test_accuracy(trained_sweep, tmp_path):
    run = trained_sweep / "0"
    result = run_here("mnist_lightning.evaluate", f"ckpt_path={run}/checkpoints/last.ckpt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    test_acc = json.loads((run / "metrics.json").read_text())["test/acc"]
    assert f"test accuracy: {100 * test_acc:.2f}%" in result.stdout
    assert "per-class accuracy: 0: " in result.stdout and "true \\ pred" in result.stdout
    confusion = [line.split()[1:] for line in result.stdout.splitlines()[-10:]]
    counts = np.array(confusion, dtype=int)
    assert counts.shape == (10, 10) and counts.sum() == 10_000
    assert counts.trace() == round(test_acc * 10_000)  # exactly the run's accuracy, image for image
    true_counts = np.bincount(torchvision.datasets.MNIST(BUNDLED_DATA_DIR, train=False).targets.numpy())
    assert counts.sum(axis=1).tolist() == true_counts.tolist()  # rows are the true digits, columns the predicted
    assert not list(tmp_path.iterdir())  # evaluate prints; it leaves no run folder behind
    assert "it/s" not in result.stdout + result.stderr  # no progress bar into a pipe or a file, as in train


@pytest.mark.system  # the fast suite stays under 4 minutes; the piped case is checked there
def test_evaluate_draws_its_progress_bar_in_a_terminal(trained_sweep, tmp_path):
    ckpt = trained_sweep / "0" / "checkpoints" / "last.ckpt"
    result = run_here("mnist_lightning.evaluate", f"ckpt_path={ckpt}", "trainer.limit_test_batches=2", cwd=tmp_path,
                      terminal=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "it/s" in result.stdout and "test accuracy: " in result.stdout


def write_test_digits(folder, count: int = 40) -> list[int]:
    """The first `count` MNIST test digits as 84x84 files: white-on-black PNGs and black-on-white RGB JPEGs."""
    test_set = torchvision.datasets.MNIST(BUNDLED_DATA_DIR, train=False)
    labels = []
    for i in range(count):
        image, label = test_set[i]
        large = image.resize((84, 84), Image.Resampling.BICUBIC)
        large.save(folder / f"{i:02d}_white_on_black.png")
        Image.fromarray(255 - np.asarray(large)).convert("RGB").save(folder / f"{i:02d}_black_on_white.jpg")
        labels.append(label)
    return labels


def test_predict_reads_digits_in_both_polarities_and_skips_non_images(trained_sweep, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    labels = write_test_digits(images)
    (images / "notes.txt").write_text("not an image")
    ckpt = trained_sweep / "0" / "checkpoints" / "last.ckpt"
    result = run_here("mnist_lightning.predict", f"ckpt_path={ckpt}", f"inputs={images}", cwd=tmp_path)
    assert result.returncode == 1  # one file could not be classified; the others were
    assert f"{images / 'notes.txt'}: skipped, not an image" in result.stderr
    predicted = {}
    for line in result.stdout.splitlines():
        name, digit, probability = re.fullmatch(r"(.*): (\d) \(p=([\d.]+)\)(  doubtful: .*)?", line).groups()[:3]
        assert 0 < float(probability) <= 1
        predicted[name.rsplit("/", 1)[1]] = int(digit)
    for polarity in ("white_on_black.png", "black_on_white.jpg"):
        hits = sum(predicted[f"{i:02d}_{polarity}"] == label for i, label in enumerate(labels))
        assert hits >= 0.9 * len(labels), (polarity, hits)  # a 300-step model scores ~97% on MNIST itself


def test_predict_on_a_folder_without_files_is_a_clear_error(trained_sweep, tmp_path):
    ckpt = trained_sweep / "0" / "checkpoints" / "last.ckpt"
    result = run_here("mnist_lightning.predict", f"ckpt_path={ckpt}", f"inputs={tmp_path}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        == f"error: inputs={tmp_path} is a folder with no files: put PNG or JPEG images of digits there"
    )


def test_predict_never_writes_over_its_inputs_and_checks_doubtful_below(trained_sweep, tmp_path):
    # save_preprocessed=<the inputs' folder> replaced every photo with its 28x28 image; output=<an input> with the CSV
    images = tmp_path / "images"
    images.mkdir()
    write_test_digits(images, count=2)
    before = {file.name: file.read_bytes() for file in images.iterdir()}
    ckpt = trained_sweep / "0" / "checkpoints" / "last.ckpt"
    first, second = images / "00_white_on_black.png", images / "01_white_on_black.png"  # saved as <stem>.png
    over = f"would write the 28x28 images over inputs ({first}, {second}): give another folder"
    answers = {
        f"save_preprocessed={images}": f"error: save_preprocessed={images} {over}",
        f"output={first}": f"error: output={first} is one of the inputs, which the CSV would replace: give another "
        "file",
        "doubtful_below=2": "error: doubtful_below must be a probability between 0 and 1 (or null: calibrated), got 2",
    }
    for option, answer in answers.items():
        result = run_here("mnist_lightning.predict", f"ckpt_path={ckpt}", f"inputs={images}", option, cwd=tmp_path)
        assert (result.returncode, result.stderr.strip()) == (2, answer)
    assert {file.name: file.read_bytes() for file in images.iterdir()} == before
    # Another folder takes them all
    seen = tmp_path / "seen"
    result = run_here("mnist_lightning.predict", f"ckpt_path={ckpt}", f"inputs={images}", f"save_preprocessed={seen}",
                      "doubtful_below=0.5", f"output={tmp_path / 'p.csv'}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(list(seen.iterdir())) == 4 and f"wrote {tmp_path / 'p.csv'} (4 rows)" in result.stderr
