"""python -m mnist_lightning.predict ckpt_path=<path> inputs=<file or folder>: classify photos and scans of digits."""

import sys

from mnist_lightning.base.command_line import answer_early

if __name__ == "__main__":  # mistakes, --help and --cfg job are answered before torch and Lightning load (8-10 s)
    answer_early("predict", sys.argv[1:])

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from mnist_lightning.base.command import command
from mnist_lightning.base.errors import UserError, require
from mnist_lightning.data.mnist import denormalize
from mnist_lightning.inference.doubt import calibrated_threshold
from mnist_lightning.inference.photo import to_mnist
from mnist_lightning.run.checkpoints import load_module


@dataclass
class Prediction:
    """One file's answer: the digit and the runner-up with their probabilities, or why it was skipped."""

    file: Path
    digit: int | None = None
    probability: float | None = None
    runner_up: int | None = None
    runner_up_probability: float | None = None
    skipped: str | None = None

    def line(self, doubtful_below: float) -> str:
        """`<file>: <digit> (p=<probability>)`, marked when the network is not sure."""
        text = f"{self.file}: {self.digit} (p={self.probability:.3f})"
        if self.probability < doubtful_below:
            text += f"  doubtful: runner-up {self.runner_up} (p={self.runner_up_probability:.3f})"
        return text


def input_paths(inputs: str | Path | Sequence[str]) -> list[Path]:
    """`inputs` as paths: one file or folder, or a list of them (`inputs=[a.png,scans]`)."""
    return [Path(inputs)] if isinstance(inputs, str | Path) else [Path(entry) for entry in inputs]


def input_files(inputs: str | Path | Sequence[str]) -> list[Path]:
    """Each file itself, or every visible file in each folder (sorted); a clear error when one names nothing."""
    files = []
    for path in input_paths(inputs):
        if path.is_file():
            files.append(path)
            continue
        if not path.is_dir():
            raise UserError(f"inputs={path} does not exist: give an image file or a folder of images")
        in_folder = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not in_folder:
            raise UserError(f"inputs={path} is a folder with no files: put PNG or JPEG images of digits there")
        files += in_folder
    first_of = {}  # a file listed twice (inputs=[a/x.png,a]) is classified once, where it first comes
    for file in files:
        first_of.setdefault(file.resolve(), file)
    files = list(first_of.values())
    if not files:
        raise UserError("inputs=[] names no files: give an image file, a folder of images, or a list of them")
    return files


def seen_file_names(files: list[Path]) -> dict[Path, str]:
    """The name each file's 28x28 image is saved under: its own name as a PNG (one.png -> one.png, scan.jpg ->
    scan.png), the whole name plus .png where two inputs share a stem (a.jpg, a.png -> a.jpg.png, a.png.png), and a
    number after it where two listed folders hold the same name (A/x.png, B/x.png -> x.png.png, x.png-2.png)."""
    stems = Counter(file.stem for file in files)  # counted once: a folder may hold thousands of files
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for file in files:
        name = f"{file.stem}.png" if stems[file.stem] == 1 else f"{file.name}.png"
        number = 2
        while name in taken:
            name = f"{file.name}-{number}.png"
            number += 1
        names[file] = name
        taken.add(name)
    return names


def prepare(file: Path) -> torch.Tensor:
    """The (1, 28, 28) tensor the network sees for `file`; ValueError or OSError when it cannot be made."""
    try:
        with Image.open(file) as image:
            return to_mnist(image)
    except UnidentifiedImageError as error:
        raise ValueError("not an image") from error
    except Image.DecompressionBombError as error:  # Pillow's guard against huge pictures; not an OSError
        raise ValueError(f"too many pixels to open safely ({error})") from error


def save_as_seen(x: torch.Tensor, path: Path) -> None:
    """The 28x28 image the network saw, as a PNG (white digit on black, like MNIST)."""
    pixels = (denormalize(x[0]).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(path)


def write_csv(predictions: list[Prediction], path: Path, doubtful_below: float) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        columns = ["file", "digit", "probability", "runner_up", "runner_up_probability", "doubtful", "skipped"]
        writer.writerow(columns)
        for p in predictions:
            doubtful = "" if p.probability is None else p.probability < doubtful_below
            row = [p.file, p.digit, p.probability, p.runner_up, p.runner_up_probability, doubtful, p.skipped or ""]
            writer.writerow(row)


def check_options(cfg: DictConfig) -> None:
    """Refuse options that would fail only after every file was read: in one line, before any work."""
    if not isinstance(cfg.batch_size, int) or cfg.batch_size < 1:
        raise UserError(f"batch_size must be a positive integer, got {cfg.batch_size!r}")
    share = cfg.get("doubtful_share")
    if not isinstance(share, float | int) or isinstance(share, bool) or not 0 < share < 1:
        raise UserError(f"doubtful_share must be a number between 0 and 1 (like 0.01), got {share!r}")
    below = cfg.get("doubtful_below")
    if below is not None and (not isinstance(below, float | int) or isinstance(below, bool) or not 0 <= below <= 1):
        raise UserError(f"doubtful_below must be a probability between 0 and 1 (or null: calibrated), got {below!r}")
    for key in ("output", "save_preprocessed"):
        if cfg.get(key) and Path(cfg[key]).exists() and Path(cfg[key]).is_dir() != (key == "save_preprocessed"):
            kind = "a folder" if key == "save_preprocessed" else "a file, not a folder"
            raise UserError(f"{key}={cfg[key]} must be {kind}")


def check_inputs_are_kept(cfg: DictConfig, files: list[Path], seen_names: dict[Path, str]) -> None:
    """Refuse an output that would write over an input image: the CSV itself, or a 28x28 image saved under an
    input's own name (save_preprocessed=<the inputs' folder>)."""
    inputs = {file.resolve(): file for file in files}
    if cfg.get("output") and Path(cfg.output).resolve() in inputs:
        raise UserError(f"output={cfg.output} is one of the inputs, which the CSV would replace: give another file")
    if cfg.get("save_preprocessed"):
        folder = Path(cfg.save_preprocessed)
        hit = [inputs[path] for name in seen_names.values() if (path := (folder / name).resolve()) in inputs]
        if hit:
            shown = ", ".join(str(file) for file in hit[:3]) + (f" and {len(hit) - 3} more" if len(hit) > 3 else "")
            raise UserError(
                f"save_preprocessed={folder} would write the 28x28 images over inputs ({shown}): give another folder"
            )


def predict(cfg: DictConfig) -> list[Prediction]:
    """Classify every file in batches; print a line per file (unreadable ones on stderr) and write the extras."""
    for key in ("ckpt_path", "inputs"):
        require(cfg, key, f"give {key}=...: python -m mnist_lightning.predict ckpt_path=<ckpt> inputs=<file or folder>")
    check_options(cfg)
    files = input_files(cfg.inputs)
    seen_names = seen_file_names(files)
    check_inputs_are_kept(cfg, files, seen_names)
    module = load_module(cfg.ckpt_path, trust=cfg.trust_checkpoint).eval()
    doubtful_below = cfg.doubtful_below
    if doubtful_below is None:  # calibrated on this network's own answers (inference/doubt.py)
        doubtful_below = calibrated_threshold(module, cfg.doubtful_share)
        print(f"doubtful below p={doubtful_below:.3f}: less sure than on {1 - cfg.doubtful_share:.1%} of the "
              "training digits it reads right", file=sys.stderr)  # fmt: skip
    seen_dir = Path(cfg.save_preprocessed) if cfg.get("save_preprocessed") else None
    if seen_dir is not None:
        seen_dir.mkdir(parents=True, exist_ok=True)
    if cfg.get("output"):
        Path(cfg.output).parent.mkdir(parents=True, exist_ok=True)

    predictions: list[Prediction] = []
    progress = tqdm(total=len(files), desc="predict", unit="image", disable=len(files) < cfg.progress_bar_from)
    for start in range(0, len(files), cfg.batch_size):
        batch, tensors = [], []
        for file in files[start : start + cfg.batch_size]:
            try:
                tensors.append(prepare(file))
                batch.append(Prediction(file))
            except (OSError, ValueError) as error:
                predictions.append(Prediction(file, skipped=str(error)))
                progress.write(f"{file}: skipped, {error}", file=sys.stderr)
            progress.update(1)  # per file: reading and preparing the pictures is the slow part
        if tensors:
            with torch.no_grad():
                probabilities = module(torch.stack(tensors)).softmax(dim=1)
            top = probabilities.topk(2, dim=1)
            for p, x, values, digits in zip(batch, tensors, top.values.tolist(), top.indices.tolist(), strict=True):
                p.digit, p.runner_up = digits
                p.probability, p.runner_up_probability = values
                progress.write(p.line(doubtful_below))
                if seen_dir is not None:
                    save_as_seen(x, seen_dir / seen_names[p.file])
            predictions += batch
    progress.close()

    folders = [str(path) for path in input_paths(cfg.inputs) if path.is_dir()]
    if folders and all(p.digit is None for p in predictions):
        raise UserError(f"inputs={','.join(folders)} holds no images that could be read: put PNG or JPEG digits there")
    if seen_dir is not None:
        print(f"wrote the 28x28 image the network saw for each file to {seen_dir}", file=sys.stderr)
    if cfg.get("output"):
        write_csv(sorted(predictions, key=lambda p: str(p.file)), Path(cfg.output), doubtful_below)
        rows = f"{len(predictions)} row" + ("s" if len(predictions) != 1 else "")
        print(f"wrote {cfg.output} ({rows})", file=sys.stderr)
    return predictions


@command("predict")
def main(cfg: DictConfig) -> None:
    predictions = predict(cfg)
    if any(p.digit is None for p in predictions):
        sys.exit(1)  # the others were still classified, but say that not every file was


if __name__ == "__main__":
    main()  # the command line was checked at the top
