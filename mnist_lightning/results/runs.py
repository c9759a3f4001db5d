"""Finished and unfinished runs under a folder, read from their metrics.json, and the tables made of them."""

import json
import math
import os
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import yaml

TARGET_ACC = 0.994  # the project's bar: 99.40% test accuracy
# Overrides that say where a job ran or reports, not what it trained: Hydra's own, and the study, storage and trial
# number an Optuna search with a pruner passes each trial (hydra_plugins/mnist_optuna_sweeper).
PLUMBING = ("hydra", "+optuna_trial.")


@dataclass
class Job:
    """One run folder: its overrides and, when it finished, its metrics.json."""

    folder: Path
    overrides: list[str]
    metrics: dict | None
    named_setting: str | None = None  # for copied metrics files, whose other overrides were not kept

    @property
    def setting(self) -> str:
        """The overrides without the seed: jobs with the same setting are pooled across seeds."""
        if self.named_setting:
            return self.named_setting
        kept = (o for o in self.overrides if not o.startswith("seed=") and not self.resumes_itself(o))
        return " ".join(kept) or "(defaults)"

    def resumes_itself(self, override: str) -> bool:
        """ckpt_path=<this run's own checkpoints/...>: the same run resumed (interrupted, or requeued), not another
        setting. The path is resolved from where the run started, as the run resolved it, and compared with the
        folder it wrote to, both as its .hydra/hydra.yaml recorded them (so a copied folder reads the same)."""
        key, _, value = override.lstrip("+").partition("=")
        runtime = self.hydra_runtime() if key == "ckpt_path" and value else None
        if runtime is None:
            return False
        checkpoint = os.path.normpath(os.path.join(runtime["cwd"], value.strip("'\"")))  # an absolute value stays
        return os.path.dirname(os.path.dirname(checkpoint)) == os.path.normpath(runtime["output_dir"])

    def hydra_runtime(self) -> dict | None:
        """Where the run started and the folder it wrote to (hydra.runtime.cwd and output_dir), or None."""
        hydra_file = self.folder / ".hydra" / "hydra.yaml"
        if not hydra_file.is_file():
            return None
        runtime = (yaml.safe_load(hydra_file.read_text()) or {}).get("hydra", {}).get("runtime", {})
        return runtime if {"cwd", "output_dir"} <= set(runtime) else None

    @property
    def curve(self) -> list[tuple[int, float]]:
        """(epoch, validation accuracy) per epoch; test accuracy when validation used the test set."""
        return [(row["epoch"], row["val/acc"]) for row in (self.metrics or {}).get("history", [])]

    def first_epoch_at(self, accuracy: float) -> int | None:
        return next((epoch for epoch, acc in self.curve if acc >= accuracy), None)


def find_jobs(folder: Path) -> list[Job]:
    """Every Hydra run folder (one with .hydra/overrides.yaml) under `folder`, finished or not, and every
    `<name>.metrics.json` copied out of its run (then only its seed is known of its overrides)."""
    jobs = []

    def natural(path: Path) -> list:  # job 10 after job 9, not after job 1
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]

    for overrides_file in sorted(folder.rglob(".hydra/overrides.yaml"), key=natural):
        run = overrides_file.parents[1]
        overrides = [o for o in yaml.safe_load(overrides_file.read_text()) or [] if not o.startswith(PLUMBING)]
        metrics_file = run / "metrics.json"
        metrics = read_metrics(metrics_file) if metrics_file.exists() else None
        jobs.append(Job(run, overrides, metrics))
    for metrics_file in sorted(folder.rglob("*.metrics.json"), key=natural):
        metrics = json.loads(metrics_file.read_text())
        setting = f"{metrics_file.parent.name} (copied metrics: overrides other than the seed not kept)"
        jobs.append(Job(metrics_file, [f"seed={metrics['seed']}"], metrics, setting))
    return jobs


def read_metrics(path: Path) -> dict:
    """A run's metrics.json; one cut short (a run killed while writing it, before 0.5.0 wrote it atomically) reads
    as status "unreadable", listed as such and left out of the means."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return {"status": "unreadable", "unreadable": {"error": str(error)}}


def pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def commit_of(metrics: dict) -> str:
    """The code a run was made with: its git commit, marked when the tree had changes."""
    provenance = metrics.get("provenance") or {}
    commit = (provenance.get("git_commit") or "?")[:7]
    return f"{commit} (dirty)" if provenance.get("git_dirty") else commit


def best_val(m: dict) -> str:
    """The best validation accuracy and its epoch; "-" for a run that never validated (trainer.limit_val_batches=0)."""
    if m.get("val/acc_best") is None:
        return "- (no validation)"
    # With data.val_size=0 validation scored the test set: the "best" epoch was chosen on it, say so.
    where = ", on test set" if m.get("val_is_test") else ""
    return f"{pct(m['val/acc_best'])} ({m['epoch_of_val_acc_best']}{where})"


def unfinished_status(run: Path) -> str:
    """What a run folder without metrics.json is: a benchmark's, or a training still running, stopped (Ctrl-C, a
    kill) or failed, which its last.ckpt can resume when it finished an epoch."""
    if (run / "bench.json").is_file():
        return "a benchmark (bench.json), not a training run"
    if (run / "checkpoints" / "last.ckpt").is_file():
        return "unfinished (no metrics.json): running, stopped or failed; checkpoints/last.ckpt resumes it"
    return "unfinished (no metrics.json): running, stopped or failed"


def where_stopped(stopped: dict) -> str:
    """Where a Ctrl-C'd run stopped, from its metrics.json's "interrupted" record (run/record.py's `interruption`)."""
    return "in the final test" if stopped["stage"] == "test" else f"in epoch {stopped['epoch']}"


def interrupted_status(stopped: dict) -> str:
    if stopped.get("search"):  # an Optuna trial: its search goes on by the search's own command
        resume = "; the search's command, run again, goes on without it"
    elif stopped["resume"]:
        resume = "; metrics.json's interrupted.resume is the command that resumes it"
    else:
        resume = ""
    by = "by SIGTERM" if stopped.get("signal") == "SIGTERM" else "(Ctrl-C)"
    return f"interrupted {by} {where_stopped(stopped)}{resume}"


def job_rows(jobs: list[Job], root: Path) -> list[dict[str, str]]:
    """One row per job; unfinished or failed jobs say so instead of disappearing."""
    rows = []
    for job in jobs:
        m = job.metrics
        row = {"job": str(job.folder.relative_to(root)) or ".", "overrides": " ".join(job.overrides) or "(defaults)"}
        if m is None:
            rows.append(row | {"status": unfinished_status(job.folder)})
            continue
        if m.get("status") == "over_budget":  # a search trial skipped before training
            rows.append(row | {"status": "over budget, not trained", "params": f"{m['params']:,}"})
            continue
        if m.get("status") == "interrupted":  # Ctrl-C: metrics.json says where, and the command that resumes it
            rows.append(row | {"status": interrupted_status(m["interrupted"])})
            continue
        if m.get("status", "ok") != "ok":  # diverged, chance_level or pruned: metrics.json says where, or how far
            failure = m.get(m["status"]) or {}
            where = f" at epoch {failure['epoch']}, step {failure['step']}" if "epoch" in failure else ""
            if "train/acc" in failure:
                where = f" (train acc {100 * failure['train/acc']:.1f}%)"
            rows.append(row | {"status": f"{m['status'].replace('_', ' ')}{where}"})
            continue
        if is_smoke_test(m):  # a batch or a few of each stage: its accuracy says nothing
            rows.append(
                row
                | {
                    "status": "smoke test (fast_dev_run), not a result",
                    "params": f"{m['params']:,}",
                    "commit": commit_of(m),
                }
            )
            continue
        first = job.first_epoch_at(TARGET_ACC)
        # Held-out validation (data.val_size > 0): its final accuracy is what a search maximizes, so show it.
        held_out = {} if m.get("val_is_test", True) else {"final val acc %": pct(m.get("val/acc"))}
        rows.append(
            row
            | {"status": "done"}
            | held_out
            | {
                "test acc %": pct(m["test/acc"]),
                "best val acc % (epoch)": best_val(m),
                "first epoch >= 99.40%": str(first) if first else "-",
                "params": f"{m['params']:,}",
                "epochs": str(m["epochs"]),
                "seconds": f"{fit_seconds(m):.0f}",
                "s/epoch": f"{fit_seconds(m) / max(m['epochs'], 1):.1f}",
                "commit": commit_of(m),
            }
        )
    return rows


def fit_seconds(metrics: dict) -> float:
    """The run's fit time over all its processes, one after another. A run resumed before train.py kept the earlier
    processes' time recorded only its last process's `train_seconds`, and its epochs' `seconds` started again from 0
    at each resume: the seconds of the last epoch before each such fall are added back. A resume the rows do not show
    (no validated epochs, or a first epoch after the resume that ended later than the epoch before it) stays
    uncounted."""
    seconds = [row["seconds"] for row in metrics.get("history", []) if "seconds" in row]
    return metrics["train_seconds"] + sum(a for a, b in zip(seconds, seconds[1:], strict=False) if b < a)


def is_smoke_test(metrics: dict) -> bool:
    """A `trainer.fast_dev_run` run: its metrics.json says so since 0.5.0; an earlier one's recorded config does."""
    trainer = (metrics.get("config") or {}).get("trainer") or {}
    return bool(metrics.get("fast_dev_run") or trainer.get("fast_dev_run"))


def is_test_result(metrics: dict | None) -> bool:
    """Whether a run's test accuracy is a result to pool: finished, trained (not diverged or at chance level), tested,
    and not a smoke test (fast_dev_run)."""
    return (
        metrics is not None
        and metrics.get("status", "ok") == "ok"
        and not is_smoke_test(metrics)
        and metrics.get("test/acc") is not None
    )


def setting_rows(jobs: list[Job]) -> list[dict[str, str]]:
    """Final test accuracy pooled over seeds, one row per distinct setting."""
    by_setting: dict[str, list[float]] = {}
    for job in jobs:
        if is_test_result(job.metrics):
            by_setting.setdefault(job.setting, []).append(job.metrics["test/acc"])
    return [{"setting": setting, "n": str(len(accs)), **pooled(accs)} for setting, accs in by_setting.items()]


def pooled(accs: list[float]) -> dict[str, str]:
    """Final test accuracies of several seeds pooled: mean, sample std ("-" for one seed), min and max, in %."""
    return {
        "mean test acc %": pct(statistics.mean(accs)),
        "std": pct(statistics.stdev(accs)) if len(accs) > 1 else "-",
        "min": pct(min(accs)),
        "max": pct(max(accs)),
    }


# The per-job table's columns in this order whichever row comes first (a diverged or skipped first job has fewer)
JOB_COLUMNS = ("job", "overrides", "status", "final val acc %", "test acc %", "best val acc % (epoch)",
               "first epoch >= 99.40%", "params", "epochs", "seconds", "s/epoch", "commit")  # fmt: skip


def markdown_table(rows: list[dict[str, str]], order: tuple[str, ...] = ()) -> str:
    """The rows as a markdown table; the columns named in `order` first, in that order, then the others as met."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    columns.sort(key=lambda c: order.index(c) if c in order else len(order))  # a stable sort: the others keep theirs
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row.get(c, "") for c in columns) + " |" for row in rows]
    return "\n".join(lines)
