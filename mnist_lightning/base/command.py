"""The wrapper every Hydra command shares: its entry point and one-line user errors; run_command (the tests'
way to run a command in their own process) makes the command line's checks first, as each command module does."""

import functools
import sys
from collections.abc import Callable
from typing import Any

from mnist_lightning.base.command_line import check_command_line, hydra_main
from mnist_lightning.base.console import tidy_console
from mnist_lightning.base.errors import exit_on_user_error
from mnist_lightning.base.nvml import skip_failing_nvml_check


def command(config_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`@command("train")`: Hydra's main composing conf/<config_name>.yaml, with UserErrors ending in one line."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        main = hydra_main(config_name)(tidy_console(exit_on_user_error(without_failing_nvml_check(fn))))
        main.config_name = config_name  # for run_command's check of the option names
        return main

    return decorate


def without_failing_nvml_check(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run `fn` (a Hydra task) with torch's NVML check off where NVML cannot start (base/nvml.py). In the task, not
    before Hydra, so it also holds in jobs a launcher starts in new processes (submitit), which import Lightning
    (and so turn the check on) anew. Not in DDP's spawned workers, which start from Lightning's own entry point."""

    @functools.wraps(fn)
    def task(*args: Any, **kwargs: Any) -> Any:
        skip_failing_nvml_check()
        return fn(*args, **kwargs)

    return task


def run_command(main: Callable[[], Any]) -> None:
    """A command as `python -m` starts it, in this process (the tests): the command line's checks, then Hydra.
    Under `python -m` each command module makes the checks first, before its heavy imports, then calls main()."""
    check_command_line(getattr(main, "config_name", None), sys.argv[1:])
    main()
