"""User-facing errors: one clear line on stderr and a non-zero exit, never a traceback."""

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


class UserError(Exception):
    """A problem the user can fix (a bad path, a damaged file, a config value out of range)."""


def find_user_error(error: BaseException) -> UserError | None:
    """The UserError behind `error`, looking through wrappers such as Hydra's InstantiationException."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, UserError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def exit_on_user_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an entry point so a UserError ends the process with `error: <message>` and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            user_error = find_user_error(error)
            if user_error is None:
                raise
            print(f"error: {user_error}", file=sys.stderr)
            sys.exit(2)

    return wrapper


def check_group_choices(conf_dir: Path, overrides: list[str], groups: tuple[str, ...]) -> None:
    """Refuse `group=option` overrides naming no config file, in one line (Hydra's own message runs to many).

    Only the project's own groups are checked: Hydra's (hydra/launcher=joblib, ...) come from plugins.
    """
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or key not in groups:
            continue
        for option in value.split(","):  # a multirun sweeps a comma-separated list
            if option not in ("null", "") and not (conf_dir / key / f"{option}.yaml").is_file():
                choices = ", ".join(sorted(p.stem for p in (conf_dir / key).glob("*.yaml")))
                print(f"error: there is no {key} '{option}': choose one of {choices}", file=sys.stderr)
                sys.exit(2)
