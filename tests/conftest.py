"""Shared helpers: compose the project's real configs, and run its command-line entry points."""

import contextlib
import importlib
import io
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# pytest runs the fast tests in 2 worker processes (pyproject.toml: -n auto; pytest_xdist_auto_num_workers below):
# each trains with its share of the cores, as two trainings of 2 threads each on 2 cores wait on each other's OpenMP
# barriers. Set before torch is imported, so the commands the tests start as processes inherit it too.
if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // workers))

import pytest  # noqa: E402
import torch  # noqa: E402
from filelock import FileLock  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Worker processes for `-n auto`: 2 for the fast suite on 2 cores or more (most of a test is Python, which one
    process runs on one core); none (one process, as `-n 0`) for the system and slow tests, which share one SLURM
    cluster, servers and ports and train on every core, and with a single core. `--pdb` also means one process."""
    selected = config.option.markexpr or ""
    if re.search(r"(?<!not )\b(system|slow)\b", selected) or len(os.sched_getaffinity(0)) < 2:
        return 0
    return 2


def compose_train_config(output_dir: Path, overrides: list[str] = ()) -> DictConfig:
    """conf/train.yaml composed with `overrides`, writing into `output_dir`."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=[f"paths.output_dir={output_dir}", *overrides])


def run_module(module: str, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` in `cwd`, as a user would type it; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


class Terminal(io.StringIO):
    """Captured output that says it is a terminal, as a user's console does (progress bars are drawn)."""

    def isatty(self) -> bool:
        return True


def run_here(module: str, *args: str, cwd: Path, terminal: bool = False) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` run in this process: the same entry point, Hydra and error handling as
    run_module, without the 5-10 s of a new Python importing torch and Lightning. Output captured as text.

    For the commands' one-line errors and short runs; what needs a process of its own (signals, DDP, a wheel, a
    server) keeps run_module. Not captured here: Python warnings (pytest records them) and the random state,
    which each train() seeds itself. terminal=True: stdout and stderr say they are a terminal.
    """
    from mnist_lightning.base.command import run_command

    main = importlib.import_module(module).main
    stdout, stderr = (Terminal(), Terminal()) if terminal else (io.StringIO(), io.StringIO())
    root = logging.getLogger()
    argv, cwd_before, root_handlers, root_level = sys.argv, Path.cwd(), root.handlers[:], root.level
    threads = torch.get_num_threads()
    sys.argv = [f"{module}.py", *args]
    code = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            run_command(main)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.argv = argv
        os.chdir(cwd_before)
        GlobalHydra.instance().clear()  # Hydra's state of this run must not leak into the next test
        HydraConfig.instance().cfg = None
        for handler in set(root.handlers) - set(root_handlers):  # Hydra's, writing into this run's folder
            handler.close()
        root.handlers[:] = root_handlers
        root.setLevel(root_level)
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess([module, *args], code, stdout.getvalue(), stderr.getvalue())


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answers(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    """Return once `url` answers; fail at once with its stderr when the server `process` has exited."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else process.returncode
            assert time.monotonic() < deadline, f"{url} did not answer in {seconds} s"
            time.sleep(0.5)


@pytest.fixture
def tiny_run_args() -> list[str]:
    """Overrides for a CLI run of a few steps that still logs, checkpoints and tests on all 10,000 images."""
    return ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1"]


# A sweep train_sweep() made: .ci/run trains it once for both suites.
TRAINED_SWEEP_ENV = "MNIST_LIGHTNING_TRAINED_SWEEP"


def train_sweep(sweep: Path) -> None:
    """Job 0 trains 300 steps (~97% test accuracy; the tests' checkpoint), job 1 the first 30 of them (a second run
    for TensorBoard's views, at a tenth of the cost). Seed 1 for both."""
    args = ["-m", "trainer.limit_train_batches=300,30", "seed=1", "model.dropout=0.05", "trainer.max_epochs=1"]
    sweep.parent.mkdir(parents=True, exist_ok=True)
    result = run_here("mnist_lightning.train", *args, f"hydra.sweep.dir={sweep}", cwd=sweep.parent)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def trained_sweep(tmp_path_factory, worker_id) -> Path:
    """A finished 2-job sweep with real outputs (train_sweep), trained once per run of pytest, or copied from the one
    named by $MNIST_LIGHTNING_TRAINED_SWEEP. Each worker process gets its own copy to write beside."""
    sweep = tmp_path_factory.mktemp("trained_sweep") / "sweep"
    if os.environ.get(TRAINED_SWEEP_ENV):
        shutil.copytree(os.environ[TRAINED_SWEEP_ENV], sweep)
    elif worker_id == "master":  # one process (-n 0)
        train_sweep(sweep)
    else:  # the first worker to need it trains it into the folder the workers of this run share (pytest-xdist's way)
        shared = tmp_path_factory.getbasetemp().parent / "trained_sweep"
        with FileLock(f"{shared}.lock"):
            if (shared / "failed").exists():
                pytest.fail("the shared trained sweep failed in another worker process: see its error")
            if not (shared / "sweep").exists():
                partial = shared / f"partial-{worker_id}" / "sweep"  # renamed once whole: no half sweep is shared
                threads = torch.get_num_threads()
                torch.set_num_threads(len(os.sched_getaffinity(0)))  # every core, as in one process: the rest wait
                try:
                    train_sweep(partial)
                except BaseException:
                    (shared / "failed").touch()
                    raise
                finally:
                    torch.set_num_threads(threads)
                partial.replace(shared / "sweep")
        shutil.copytree(shared / "sweep", sweep)
    return sweep


def assert_clear_error(result: subprocess.CompletedProcess, pattern: str, code: int = 2) -> None:
    """Exit code `code`, no traceback, and exactly one `error:` line, matching `pattern`."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and re.search(pattern, errors[0]), result.stderr


if __name__ == "__main__":  # .ci/run: `python tests/conftest.py FOLDER` trains the shared sweep into FOLDER once
    train_sweep(Path(sys.argv[1]).resolve())
