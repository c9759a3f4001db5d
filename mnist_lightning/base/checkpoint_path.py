"""Whether a `ckpt_path` names a checkpoint file, without torch: the early check refuses a mistyped path before
torch and Lightning load (about a second instead of 8-10 s, and no run folder made), and run/checkpoints.py's
read_checkpoint says the same for a path given any other way (a config file, an interpolation)."""

from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf

from mnist_lightning.base.locations import CONF_DIR

# The commands whose ckpt_path is a checkpoint to open; serve's may also be an exported .onnx (inference/server.py).
CHECKPOINT_COMMANDS = ("train", "evaluate", "predict", "export", "photos")
EXPORTED = (".onnx", ".pt2")  # the files mnist_lightning.export writes (format=onnx, format=pt2)


def checkpoint_path_error(ckpt_path: str | Path, option: str = "ckpt_path") -> str | None:
    """Why `ckpt_path` (given as `option`, e.g. distill.teacher) is not a checkpoint file (a folder, nothing there,
    an exported .onnx), else None."""
    if str(ckpt_path) == "":  # an unset shell variable (ckpt_path=$CKPT): Path("") would be the working folder
        return f"{option} is empty: give a file such as <run>/checkpoints/last.ckpt"
    path = Path(ckpt_path)
    if path.is_dir():  # a run folder (or its checkpoints/) is the natural thing to paste; name the file in it
        last = next((f for f in (path / "checkpoints" / "last.ckpt", path / "last.ckpt") if f.is_file()), None)
        hint = f"{option}={last}" if last else "a file such as <run>/checkpoints/last.ckpt"
        return f"{option} {path} is a folder, not a checkpoint: give {hint}"
    if not path.is_file():
        return f"{option} {path} does not exist: give a file such as <run>/checkpoints/last.ckpt"
    if path.suffix in EXPORTED:  # what export writes: serve reads .onnx; evaluate, predict and training need weights
        return f"{path} is an exported network, not a checkpoint: give the .ckpt it was exported from"
    return None


def given_checkpoint_error(config_name: str, overrides: list[str]) -> str | None:
    """The error for the first `ckpt_path=` override (each value of a sweep) that names no checkpoint file, for the
    commands that open one; null only where the command needs a checkpoint (train's null trains from the start).
    None for an interpolation or a sweep Hydra expands itself (glob, interval): the run checks those."""
    if config_name not in CHECKPOINT_COMMANDS:
        return None
    config = OmegaConf.load(CONF_DIR / f"{config_name}.yaml")
    if "ckpt_path" not in config.keys():  # not `in config`: that is False for a ??? value
        return None
    needed = OmegaConf.is_missing(config, "ckpt_path")  # evaluate, predict, export, photos: ckpt_path: ???
    parser = OverridesParser.create()
    for word in overrides:
        if word.lstrip("+~").partition("=")[0] != "ckpt_path" or word.startswith("~"):
            continue
        try:
            override = parser.parse_override(word)
            values = list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
        except HydraException:  # glob(*), interval(): not a list of paths
            return None
        for value in values:
            if value is None and needed:
                return f"ckpt_path is null: {config_name} needs a file such as <run>/checkpoints/last.ckpt"
            if isinstance(value, str) and "${" not in value and (message := checkpoint_path_error(value)):
                return message
    return None
