"""python -m mnist_lightning.report <folder>: one table and one plot for every run found under a folder."""

import csv
import json
import math
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from mnist_lightning.errors import UserError, exit_on_user_error

TARGET_ACC = 0.994  # the project's bar: 99.40% test accuracy
SETTINGS_TITLE = "Final test accuracy by setting (seeds pooled)"


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
        return " ".join(o for o in self.overrides if not o.startswith("seed=")) or "(defaults)"

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
        overrides = [o for o in yaml.safe_load(overrides_file.read_text()) or [] if not o.startswith("hydra")]
        metrics_file = run / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else None
        jobs.append(Job(run, overrides, metrics))
    for metrics_file in sorted(folder.rglob("*.metrics.json"), key=natural):
        metrics = json.loads(metrics_file.read_text())
        setting = f"{metrics_file.parent.name} (copied metrics: overrides other than the seed not kept)"
        jobs.append(Job(metrics_file, [f"seed={metrics['seed']}"], metrics, setting))
    return jobs


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def _commit(metrics: dict) -> str:
    """The code a run was made with: its git commit, marked when the tree had changes."""
    provenance = metrics.get("provenance") or {}
    commit = (provenance.get("git_commit") or "?")[:7]
    return f"{commit} (dirty)" if provenance.get("git_dirty") else commit


def job_rows(jobs: list[Job], root: Path) -> list[dict[str, str]]:
    """One row per job; unfinished or failed jobs say so instead of disappearing."""
    rows = []
    for job in jobs:
        m = job.metrics
        row = {"job": str(job.folder.relative_to(root)) or ".", "overrides": " ".join(job.overrides) or "(defaults)"}
        if m is None:
            rows.append(row | {"status": "failed or running (no metrics.json)"})
            continue
        if m.get("status", "ok") != "ok":  # e.g. diverged: metrics.json says where, and there is no test result
            failure = m.get(m["status"], {})
            where = f" at epoch {failure['epoch']}, step {failure['step']}" if "epoch" in failure else ""
            rows.append(row | {"status": f"{m['status']}{where}"})
            continue
        first = job.first_epoch_at(TARGET_ACC)
        rows.append(
            row
            | {
                "status": "done",
                "test acc %": _pct(m["test/acc"]),
                # With data.val_size=0 validation scored the test set: the "best" epoch was chosen on it, say so.
                "best val acc % (epoch)": f"{_pct(m['val/acc_best'])} ({m['epoch_of_val_acc_best']}"
                + (", on test set)" if m.get("val_is_test") else ")"),
                "first epoch >= 99.40%": str(first) if first else "-",
                "params": f"{m['params']:,}",
                "epochs": str(m["epochs"]),
                "seconds": f"{m['train_seconds']:.0f}",
                "s/epoch": f"{m['train_seconds'] / max(m['epochs'], 1):.1f}",
                "commit": _commit(m),
            }
        )
    return rows


def setting_rows(jobs: list[Job]) -> list[dict[str, str]]:
    """Final test accuracy pooled over seeds, one row per distinct setting."""
    by_setting: dict[str, list[float]] = {}
    for job in jobs:
        if job.metrics is not None and job.metrics.get("status", "ok") == "ok":
            by_setting.setdefault(job.setting, []).append(job.metrics["test/acc"])
    rows = []
    for setting, accs in by_setting.items():
        std = statistics.stdev(accs) if len(accs) > 1 else float("nan")
        rows.append(
            {
                "setting": setting,
                "n": str(len(accs)),
                "mean test acc %": _pct(statistics.mean(accs)),
                "std": _pct(std),
                "min": _pct(min(accs)),
                "max": _pct(max(accs)),
            }
        )
    return rows


def markdown_table(rows: list[dict[str, str]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row.get(c, "") for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def plot_curves(jobs: list[Job], path: Path, title: str) -> None:
    """Validation (or test) accuracy per epoch, one line per finished job, with the 99.40% bar."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 5))
    for job in jobs:
        if job.curve:
            epochs, accs = zip(*job.curve, strict=True)
            ax.plot(epochs, [100 * a for a in accs], marker=".", label=" ".join(job.overrides) or job.folder.name)
    ax.axhline(100 * TARGET_ACC, color="grey", linestyle="--", linewidth=1, label="99.40%")
    val_is_test = all(job.metrics.get("val_is_test", True) for job in jobs if job.metrics)
    ax.set(xlabel="epoch", ylabel=f"{'test' if val_is_test else 'validation'} accuracy (%)", title=title)
    ax.set_ylim(98.5, 100)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def tables_markdown(jobs: list[Job], root: Path) -> str:
    """The per-job table and the per-setting table, each under its heading."""
    text = f"## Jobs\n\n{markdown_table(job_rows(jobs, root))}\n"
    per_setting = setting_rows(jobs)
    return text + (f"\n## {SETTINGS_TITLE}\n\n{markdown_table(per_setting)}\n" if per_setting else "")


def report_tables(folder: Path) -> str:
    """The two tables `report` prints for `folder`, without headings: what the docs include, verbatim."""
    text = tables_markdown(find_jobs(folder), folder)
    return "\n\n".join(block.strip() for block in re.split(r"(?m)^## .*$", text) if block.strip())


def report(folder: Path) -> str:
    """Write report.md, report.csv and curves.png into `folder`; return the markdown."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: give a run or sweep folder under outputs/")
    jobs = find_jobs(folder)
    if not jobs:
        raise UserError(f"no Hydra runs (.hydra/overrides.yaml) under {folder}")
    text = f"# Report: {folder}\n\n{tables_markdown(jobs, folder)}"
    (folder / "report.md").write_text(text)
    write_csv(job_rows(jobs, folder), setting_rows(jobs), folder / "report.csv")
    plot_curves(jobs, folder / "curves.png", title=str(folder.name))
    return text


def write_csv(per_job: list[dict[str, str]], per_setting: list[dict[str, str]], path: Path) -> None:

    with path.open("w", newline="") as f:
        for rows in (per_job, per_setting):
            if rows:
                columns = list(dict.fromkeys(key for row in rows for key in row))
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
                f.write("\n")


# A results table in the docs: `<!-- report: <folder> -->`, the folder's report tables, `<!-- end report -->`.
DOC_TABLE = re.compile(r"(<!-- report: (?P<folder>\S+) -->\n)(?P<tables>.*?)(<!-- end report -->)", re.DOTALL)


def fill_doc_tables(text: str, root: Path) -> str:
    """`text` with every report block refilled from its folder (relative to `root`, the project's folder)."""
    return DOC_TABLE.sub(lambda m: f"{m.group(1)}{report_tables(root / m['folder'])}\n{m.group(4)}", text)


def update_docs(root: Path) -> None:
    """Refill the report blocks of README.md and docs/*.md: the docs' results tables are never typed."""
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = doc.read_text()
        if fill_doc_tables(text, root) != text:
            doc.write_text(fill_doc_tables(text, root))
            print(f"updated {doc}")


@exit_on_user_error
def main(argv: list[str]) -> None:
    if argv == ["--docs"]:
        return update_docs(Path(__file__).resolve().parents[1])  # the project's README.md and docs/
    if len(argv) != 1:
        raise UserError("usage: python -m mnist_lightning.report <run or sweep folder>  (or --docs, in the project)")
    print(report(Path(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
