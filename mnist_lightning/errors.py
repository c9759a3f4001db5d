"""User-facing errors: one clear line on stderr and a non-zero exit, never a traceback."""

import functools
import sys
from collections.abc import Callable
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
