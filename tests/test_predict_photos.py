"""predict on photos and scans: a trained model reads every named condition, and the folder extras
(CSV, doubtful mark, the images the network saw) work on a folder with a non-image file in it."""

import csv

import numpy as np
import pytest
import torch
from conftest import CONF_DIR
from hydra import compose, initialize_config_dir
from PIL import Image

from mnist_lightning.checkpoints import load_module
from mnist_lightning.data import MNIST_MEAN, MNIST_STD
from mnist_lightning.photos import CONDITIONS, mnist_test_digits, render
from mnist_lightning.predict import predict
from mnist_lightning.preprocess import to_mnist

DIGITS, LABELS = mnist_test_digits(40)


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_a_trained_model_reads_each_condition_about_as_well_as_clean_digits(trained_sweep, condition):
    # The 300-step model of the fixture scores about 95% on these clean digits itself: compare with that.
    module = load_module(trained_sweep / "0" / "checkpoints" / "last.ckpt").eval()
    clean = ((torch.from_numpy(DIGITS).float() / 255 - MNIST_MEAN) / MNIST_STD).unsqueeze(1)
    pictures = torch.stack([to_mnist(render(d, condition, seed=i)) for i, d in enumerate(DIGITS)])
    with torch.no_grad():
        right_clean, right = ((module(x).argmax(dim=1).numpy() == LABELS).sum() for x in (clean, pictures))
    assert right >= right_clean - 2, f"{condition}: {right}/{len(DIGITS)}, clean {right_clean}"  # within 5 points


def test_a_folder_gives_a_csv_doubtful_marks_and_the_images_the_network_saw(trained_sweep, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, (digit, condition) in enumerate(zip(DIGITS[:10], CONDITIONS, strict=False)):
        render(digit, condition, seed=i).save(folder / f"{i:02d}.png")
    (folder / "notes.txt").write_text("not an image")
    ckpt = trained_sweep / "0" / "checkpoints" / "last.ckpt"
    overrides = [f"ckpt_path={ckpt}", f"inputs={folder}", f"output={tmp_path}/out.csv",
                 f"save_preprocessed={tmp_path}/seen", "doubtful_below=1.01", "batch_size=4"]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        predictions = predict(compose("predict", overrides=overrides))

    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert [r["file"].rsplit("/", 1)[1] for r in rows] == [f"{i:02d}.png" for i in range(10)] + ["notes.txt"]
    assert rows[-1]["digit"] == "" and rows[-1]["skipped"] == "not an image"
    for row, p in zip(rows, sorted(predictions, key=lambda p: str(p.file)), strict=True):
        if p.digit is not None:
            assert int(row["digit"]) == p.digit and int(row["runner_up"]) != p.digit
            assert 1 >= float(row["probability"]) >= float(row["runner_up_probability"]) >= 0
    out, err = capsys.readouterr()
    assert out.count("doubtful: runner-up") == 10  # every answer is below the (impossible) threshold of 1.01
    assert "notes.txt: skipped, not an image" in err
    seen = sorted((tmp_path / "seen").iterdir())
    assert len(seen) == 10 and Image.open(seen[0]).size == (28, 28)
    saved = torch.from_numpy(np.asarray(Image.open(seen[0]), dtype=np.float32) / 255)
    network_input = to_mnist(render(DIGITS[0], "white paper", seed=0))[0] * MNIST_STD + MNIST_MEAN
    assert torch.allclose(saved, network_input.clamp(0, 1), atol=1 / 255)  # file 00 is white paper, seed 0
