"""User-facing errors: one clear line on stderr and a non-zero exit, never a traceback."""

import contextlib
import difflib
import functools
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mnist_lightning.base.locations import CONF_DIR


class UserError(Exception):
    """A problem the user can fix (a bad path, a damaged file, a config value out of range)."""

    exit_code = 2
    prefix = "error"


class Interrupted(UserError):
    """Ctrl-C during training: the message names the last checkpoint and the command that resumes from it."""

    exit_code = 130  # 128 + SIGINT, what a shell reports for a process stopped by Ctrl-C
    prefix = "interrupted"


def require(cfg: Any, key: str, message: str) -> None:
    """The one check that a command was given a value it cannot run without (`ckpt_path=...`, `inputs=...`): not
    given (???), null, or empty (an unset shell variable)."""
    if OmegaConf.is_missing(cfg, key) or cfg[key] is None or cfg[key] == "":
        raise UserError(message)


def first_line(error: BaseException) -> str:
    """A library's error as one line of a user error: its message's first line, or its type where it has none."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def find_user_error(error: BaseException) -> UserError | None:
    """The UserError behind `error`, looking through wrappers such as Hydra's InstantiationException."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, UserError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def exit_on_user_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an entry point so a UserError ends the process with `error: <message>` and its exit code (2)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:  # outside training (Lightning handles Ctrl-C during fit itself)
            print("interrupted", file=sys.stderr)
            sys.exit(Interrupted.exit_code)
        except Exception as error:
            user_error = find_user_error(error)
            if user_error is None:
                raise
            if user_error.exit_code == 2:  # refused before training: the run folder has nothing of its own
                remove_unused_run_folder()
            if os.environ.get("LOCAL_RANK", "0") == "0":  # DDP: one line from rank 0, not one per process
                print(f"{user_error.prefix}: {user_error}", file=sys.stderr)
            sys.exit(user_error.exit_code)

    return wrapper


def remove_unused_run_folder() -> None:
    """Delete this run's Hydra folder when it holds nothing but what Hydra wrote at start (.hydra/, <job>.log).

    Only Hydra's own timestamped folders (outputs/<date>/<time>, made new for this run) are removed: a folder
    the user named, however (hydra.run.dir=, hydra.sweep.dir=, ++, a config file), may have existed before, and is
    kept whole, as is any folder with other files in it.
    """
    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.output_subdir is None:  # evaluate and predict run in the current folder and write nothing
        return
    named = hydra_cfg.sweep if hydra_cfg.mode == RunMode.MULTIRUN else hydra_cfg.run  # a sweep's job: in its folder
    hydra_files = {hydra_cfg.output_subdir, f"{hydra_cfg.job.name}.log"}
    remove_if_only(named, Path(hydra_cfg.runtime.output_dir), hydra_files)


def remove_unused_sweep_folder(hydra_cfg: DictConfig) -> None:
    """A sweep refused before any job started: delete its folder when it holds nothing but Hydra's multirun.yaml,
    with the same rule as remove_unused_run_folder for a folder the user named (`hydra_cfg`: the config's `hydra`)."""
    remove_if_only(hydra_cfg.sweep, Path(hydra_cfg.sweep.dir), {"multirun.yaml"})


def remove_if_only(named: DictConfig, folder: Path, hydra_files: set[str]) -> None:
    """Delete `folder` (and its date folder, when then empty) when it holds only `hydra_files` and `named.dir`
    (hydra.run or hydra.sweep, as written) is timestamped, as the shipped outputs/<date>/<time> is."""
    if "${now:" not in str(OmegaConf.to_container(named, resolve=False).get("dir")):
        return
    if folder.is_dir() and {p.name for p in folder.iterdir()} <= hydra_files:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # and its outputs/<date>/ folder when nothing else is in it
            folder.parent.rmdir()


def project_groups(conf_dir: Path = CONF_DIR) -> list[str]:
    """The project's config groups: every folder under conf/ (model, data/augment, ...) but Hydra's own."""
    folders = (p.relative_to(conf_dir) for p in conf_dir.rglob("*") if p.is_dir())
    return sorted(str(f) for f in folders if f.parts[0] != "hydra")


def user_config_dirs(argv: list[str]) -> list[Path]:
    """The folder given with Hydra's `--config-dir DIR` (or `-cd DIR`, `--config-dir=DIR`), a user's own configs, as
    a list of at most one: given twice, Hydra takes the last."""
    dirs = []
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(Path(argv[i + 1]))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.partition("=")[2]))
    return dirs[-1:]


def check_group_choices(overrides: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Refuse `group=option` (or `+group=option`) naming no config file, in one line: Hydra's own message runs
    to a page of search paths. Used by every entry point before Hydra starts.

    Only the project's own groups are checked: Hydra's (hydra/launcher=joblib, ...) come from plugins. An option
    may also be a file in a folder given with --config-dir (a user's own model/, experiment/, ...).
    """
    groups = project_groups(conf_dir)
    searched = [conf_dir, *user_config_dirs(overrides)]
    for override in overrides:
        key, sep, value = override.partition("=")
        key = key.lstrip("+~")
        if not sep or key not in groups or "(" in value:  # glob(*), choice(a,b): Hydra expands and checks those
            continue
        for option in value.split(","):  # a multirun sweeps a comma-separated list
            if option not in ("null", "") and not any((d / key / f"{option}.yaml").is_file() for d in searched):
                print(f"error: {missing_choice_message(key, option, groups, searched)}", file=sys.stderr)
                sys.exit(2)


def missing_choice_message(group: str, option: str, groups: list[str], searched: list[Path]) -> str:
    """There is no `group` option `option`: another group that has it (model=pico_expanded60 where
    experiment=pico_expanded60 exists), else the close names, then the choices."""
    choices = ", ".join(sorted({p.stem for d in searched for p in (d / group).glob("*.yaml")}))
    elsewhere = [g for g in groups if g != group and any((d / g / f"{option}.yaml").is_file() for d in searched)]
    close = difflib.get_close_matches(option, choices.split(", "), n=2, cutoff=0.75)
    if elsewhere:
        hint = "; ".join(f"{g}={option} chooses the {g.split('/')[-1]} of that name" for g in elsewhere)
    elif close:
        hint = f"did you mean {' or '.join(close)}?"
    else:
        return f"there is no {group} '{option}': choose one of {choices}"
    return f"there is no {group} '{option}': {hint} (choose one of {choices})"
