"""What a terminal (and a piped log) shows: log lines on lines of their own above the progress bars, and none of
Lightning's notices about hardware a run does not use."""

import functools
import logging
from collections.abc import Callable
from typing import Any

from tqdm.contrib.logging import logging_redirect_tqdm

# Lightning's info lines that tell a CPU user nothing: printed at every start, they push the results out of view.
NOTICES = (
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "Loading `train_dataloader` to estimate",
    "`Trainer.fit` stopped",
    "LOCAL_RANK:",  # which GPUs a process sees, at every fit and test
    # Its advice to lower float32 matmul precision: the project keeps torch's full fp32, so a GPU run's numbers
    # compare with a CPU run's; trainer.precision=bf16-mixed is the speed switch (docs/usage.md)
    "You are using a CUDA device",
)


class DropNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(NOTICES)


def quiet_lightning_notices() -> None:
    """Drop NOTICES at their sources, the loggers Lightning's rank_zero_info writes to and the one its CUDA
    accelerator logs the devices a process sees with (a logger's filter does not see its children's records)."""
    sources = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
               "pytorch_lightning.accelerators.cuda")  # fmt: skip
    for name in sources:
        source = logging.getLogger(name)
        if not any(isinstance(f, DropNotices) for f in source.filters):
            source.addFilter(DropNotices())


def tidy_console(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run `fn` without Lightning's NOTICES, and with the console's log lines written through tqdm, which lifts the
    progress bars out of the way first: otherwise `Epoch 1: test loss ...` lands at the end of a half-drawn bar, in
    a terminal and in a log. Every command runs inside it (base/command.py)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        quiet_lightning_notices()
        with logging_redirect_tqdm():
            return fn(*args, **kwargs)

    return wrapper


def tag_console_lines(job: int) -> None:
    """Start each console line with `[job N] `: in a sweep whose jobs run at once (hydra/launcher=joblib,
    submitit_local) their epoch lines interleave. train.log, one per job, keeps its own format."""
    for handler in logging.getLogger().handlers:  # the console's: tqdm's, in place of Hydra's (tidy_console)
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setFormatter(logging.Formatter(f"[job {job}] %(message)s"))
