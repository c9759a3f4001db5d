"""What a command does with its command line before it imports torch and Lightning (8-10 s on 2 cores): refuse a
mistake in one line, and answer the flags for which Hydra runs no task (--help, --cfg job, ...). Each command module
calls answer_early at its top, under `python -m`."""

import sys
from collections.abc import Callable

import hydra
from omegaconf import OmegaConf

from mnist_lightning.base.checkpoint_path import given_checkpoint_error
from mnist_lightning.base.errors import check_group_choices
from mnist_lightning.base.locations import CONF_DIR
from mnist_lightning.base.option_names import check_option_names, command_line_overrides

# Hydra's flags that print something and run no task; --experimental-rerun runs one, whatever else is given.
ANSWERED_BY_HYDRA = ("--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--info", "-i", "--shell-completion",
                     "-sc")  # fmt: skip


# Options of evaluate's config (it shares train's data and trainer configs) that only training reads: a user who sets
# one believes it changed the test. Named on stderr, not refused: a script may pass train's overrides to both.
TRAINING_ONLY = ("data.batch_size", "data.val_size", "data.augment", "data/augment", "trainer.max_epochs",
                 "trainer.limit_train_batches", "trainer.limit_val_batches")  # fmt: skip


def asks_hydra(argv: list[str]) -> bool:
    """Whether `argv` has a flag Hydra answers without running the command (--help, --cfg job, ...)."""
    return bool({arg.split("=")[0] for arg in argv} & set(ANSWERED_BY_HYDRA))


def training_only_note(config_name: str | None, argv: list[str]) -> str | None:
    """evaluate's note naming the training-only options on its command line, else None."""
    if config_name != "evaluate":
        return None
    keys = [word.lstrip("+~").split("=")[0] for word in command_line_overrides(argv) or []]
    unused = [key for key in keys if key.startswith(TRAINING_ONLY)]
    if not unused:
        return None
    return (
        f"note: evaluate does not use {', '.join(unused)}: only training reads {'it' if len(unused) == 1 else 'them'} "
        "(the test batch size is data.eval_batch_size; evaluate --help lists what a test reads)"
    )


def options_as_written(config_name: str) -> str:
    """The options of conf/<config_name>.yaml as the file writes them, comments included, for --help: Hydra's
    $CONFIG prints the values without the comments that say what each one does. The defaults list and the hydra
    node are left out; `$` is doubled for the template Hydra fills."""
    config_file = CONF_DIR / f"{config_name.removesuffix('.yaml')}.yaml"
    if not config_file.is_file():  # --config-name of a config in the user's own --config-dir: Hydra's own list
        return "$CONFIG"
    kept, inside_block = [], False
    for line in config_file.read_text().splitlines():
        if line.startswith(("defaults:", "hydra:")):
            inside_block = True
        elif inside_block and (line.startswith((" ", "-")) or not line.strip()):  # a blank line inside the block
            continue
        else:
            inside_block = False
            if kept or not line.startswith("#"):  # the file's own header comment is the usage line, said above
                kept.append(line)
    return "\n".join(kept).strip().replace("$", "$$")


OmegaConf.register_new_resolver("options_as_written", options_as_written, replace=True)


def hydra_main(config_name: str) -> Callable[[Callable[..., object]], Callable[[], object]]:
    """Hydra's main decorator for a command's config: the one place its settings are written (base/command.py's
    `command` and answer_early both use it)."""
    return hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=config_name)


def check_command_line(config_name: str | None, argv: list[str]) -> None:
    """Refuse, in one line each, a config group option that does not exist and (for a Hydra command, `config_name`)
    an option name the config does not have, or a ckpt_path that names no checkpoint file."""
    check_group_choices(argv)
    if config_name is not None:
        check_option_names(config_name, argv)
        overrides = command_line_overrides(argv) or []
        # --help, --cfg, ... open no checkpoint: one not made yet is no reason to refuse them
        if not asks_hydra(argv) and (message := given_checkpoint_error(config_name, overrides)):
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)
        if note := training_only_note(config_name, argv):
            print(note, file=sys.stderr)


def answer_early(config_name: str, argv: list[str]) -> None:
    """The checks of `argv` (sys.argv[1:]), then Hydra's own answer to --help, --cfg job, --info ... from a task that
    never runs (Hydra reads sys.argv itself), and exit: 1-2 s, where the command's imports alone take 8-10 s.
    Anything else returns, to run the command."""
    check_command_line(config_name, argv)
    if asks_hydra(argv) and "--experimental-rerun" not in {arg.split("=")[0] for arg in argv}:
        command_file = sys.modules["__main__"].__file__  # the command's module, run by `python -m`
        hydra_main(config_name)(no_task(command_file))()
        sys.exit(0)


def no_task(command_file: str) -> Callable[[object], None]:
    """A task Hydra never runs for these flags, which Hydra takes for one defined in `command_file` run as __main__:
    it names the job (`train is powered by Hydra`, hydra.job.name) and resolves a relative --config-path from it,
    as it does when the command itself runs."""

    def task(cfg: object) -> None:
        raise AssertionError("Hydra runs no task for --help, --cfg, --info or --shell-completion")

    task.__module__ = "__main__"
    task.__code__ = task.__code__.replace(co_filename=command_file)
    return task
