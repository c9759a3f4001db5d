"""python -m mnist_lightning.report <folder>: one table and one plot for every run found under a folder."""

import csv
import io
import re
import sys
import textwrap
from pathlib import Path

from mnist_lightning.base.errors import UserError, exit_on_user_error
from mnist_lightning.base.locations import PROJECT_ROOT
from mnist_lightning.results.frontier import frontier_rows, frontier_table, plot_frontier, time_table
from mnist_lightning.results.runs import (
    JOB_COLUMNS,
    TARGET_ACC,
    Job,
    find_jobs,
    is_smoke_test,
    job_rows,
    markdown_table,
    setting_rows,
)

SETTINGS_TITLE = "Final test accuracy by setting (seeds pooled)"


def shared_overrides(jobs: list[Job]) -> list[str]:
    """The overrides every job has (they go in the plot's title, once)."""
    shared = set.intersection(*(set(job.overrides) for job in jobs)) if len(jobs) > 1 else set()
    return [o for o in jobs[0].overrides if o in shared]


def curve_labels(jobs: list[Job]) -> list[str]:
    """One legend label per job: the overrides that tell it apart from the others, in full."""
    shared = set(shared_overrides(jobs))
    return [" ".join(o for o in job.overrides if o not in shared) or job.folder.name for job in jobs]


def accuracy_limits(curves: list[list[float]]) -> tuple[float, float]:
    """The y range (in %) that shows every point: from just under the lowest to 100, or to just over the highest
    with the 99.40% bar included when the runs come near it."""
    points = [acc for curve in curves for acc in curve]
    low, high = min(points), max(points)
    if high >= 100 * TARGET_ACC - 1:
        high = max(high, 100 * TARGET_ACC)
    margin = max(0.1, 0.05 * (high - low))
    return max(0.0, low - margin), min(100.0, high + margin)


def drawn_curve(job: Job) -> list[tuple[int, float]]:
    """The per-epoch accuracies curves.png draws for `job`: none for a smoke test (fast_dev_run), which the tables
    list as "not a result" (its few batches drew as points at chance level)."""
    return [] if job.metrics and is_smoke_test(job.metrics) else job.curve


def missing_curves_note(jobs: list[Job]) -> str | None:
    """What curves.png cannot show: the runs without a per-epoch history, or None when it shows every run."""
    missing = sum(1 for job in jobs if not drawn_curve(job))
    if not missing:
        return None
    return (
        f"{missing} of {len(jobs)} runs have no per-epoch history to draw (no validation between epochs, as with "
        "experiment=fast, not finished, or a smoke test): not in curves.png"
    )


def plot_curves(jobs: list[Job], path: Path, title: str) -> None:
    """Validation (or test) accuracy per epoch, one line per job with a history, scaled to the data; the 99.40%
    bar where the runs come near it."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    drawn = [(job, label) for job, label in zip(jobs, curve_labels(jobs), strict=True) if drawn_curve(job)]
    fig, ax = plt.subplots(figsize=(9, 5))
    val_is_test = all(job.metrics.get("val_is_test", True) for job in jobs if job.metrics)
    ylabel = f"{'test' if val_is_test else 'validation'} accuracy (%)"
    shared = textwrap.fill(" ".join(shared_overrides(jobs)), 100)
    ax.set(xlabel="epoch", ylabel=ylabel, title=f"{title}\n{shared}" if shared else title)
    if drawn:
        for job, label in drawn:
            epochs, accs = zip(*job.curve, strict=True)
            ax.plot(epochs, [100 * a for a in accs], marker=".", label=label)
        low, high = accuracy_limits([[100 * acc for _, acc in job.curve] for job, _ in drawn])
        if low <= 100 * TARGET_ACC <= high:
            ax.axhline(100 * TARGET_ACC, color="grey", linestyle="--", linewidth=1, label="99.40%")
        ax.set_ylim(low, high)
        last_epoch = max(epoch for job, _ in drawn for epoch, _ in job.curve)
        ax.set_xlim(0.5, last_epoch + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
        # Beside the plot, where long labels do not cover the curves; small print once there are many jobs.
        ax.legend(fontsize=8 if len(drawn) <= 12 else 6, loc="upper left", bbox_to_anchor=(1.01, 1))
    else:
        ax.text(0.5, 0.5, "no per-epoch history to draw", ha="center", va="center", transform=ax.transAxes)
    # bbox_inches="tight" grows the picture to hold the legend beside the plot; tight_layout warned ("not applied")
    # when a search's long labels left it no room.
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def tables_markdown(jobs: list[Job], root: Path) -> str:
    """The per-job table and the per-setting table, each under its heading. The overrides every job has are named
    once above them and left out of their rows, which then show what tells the jobs apart (report.csv keeps all)."""
    shared = shared_overrides(jobs)

    def own(overrides: str) -> str:  # the joined overrides less the shared ones (one may hold a space: tags=[a, b])
        text = f" {overrides} "
        for override in shared:
            text = text.replace(f" {override} ", " ")
        return text.strip() or "(the common overrides)"

    per_job = [row | {"overrides": own(row["overrides"])} for row in job_rows(jobs, root)]
    per_setting = [row | {"setting": own(row["setting"])} for row in setting_rows(jobs)]
    common = f"Overrides common to every job: `{' '.join(shared)}`\n\n" if shared else ""
    text = f"## Jobs\n\n{common}{markdown_table(per_job, JOB_COLUMNS)}\n"
    return text + (f"\n## {SETTINGS_TITLE}\n\n{markdown_table(per_setting)}\n" if per_setting else "")


def report_tables(folder: Path) -> str:
    """The two tables `report` prints for `folder`, without headings: what the docs include, verbatim."""
    text = tables_markdown(find_jobs(folder), folder)
    return "\n\n".join(block.strip() for block in re.split(r"(?m)^## .*$", text) if block.strip())


def find_runs(folder: Path) -> list[Job]:
    """The runs under `folder`, or the one-line error that says why there are none."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UserError(f"{folder} {what}: give a run or sweep folder under outputs/")
    jobs = find_jobs(folder)
    if not jobs:
        raise UserError(f"no Hydra runs (.hydra/overrides.yaml) under {folder}")
    return jobs


def report_markdown(jobs: list[Job], folder: Path, shown: Path) -> str:
    """report.md: its title names the folder as `shown`, then what curves.png leaves out, then the tables."""
    note = missing_curves_note(jobs)
    return f"# Report: {shown}\n\n" + (f"{note}\n\n" if note else "") + tables_markdown(jobs, folder)


def report_csv(jobs: list[Job], folder: Path) -> str:
    """report.csv: the per-job rows with every override, a blank line, then the per-setting rows."""
    text = io.StringIO(newline="")
    for rows in (job_rows(jobs, folder), setting_rows(jobs)):
        if rows:
            writer = csv.DictWriter(text, fieldnames=list(dict.fromkeys(key for row in rows for key in row)))
            writer.writeheader()
            writer.writerows(rows)
            text.write("\n")
    return text.getvalue()


def report(folder: Path, shown: Path | None = None) -> str:
    """Write report.md, report.csv and curves.png into `folder`; return the markdown. `shown`: the folder as the
    title names it (default: as given)."""
    jobs = find_runs(folder)
    plot_curves(jobs, folder / "curves.png", title=str(folder.name))
    text = report_markdown(jobs, folder, shown or folder)
    (folder / "report.md").write_text(text)
    (folder / "report.csv").write_text(report_csv(jobs, folder))
    return text


# A results table in the docs: `<!-- report: <folder> -->`, the folder's report tables, `<!-- end report -->`.
DOC_TABLE = re.compile(r"(<!-- report: (?P<folder>\S+) -->\n)(?P<tables>.*?)(<!-- end report -->)", re.DOTALL)


# The project-wide tables: `<!-- NAME -->`, the table NAMED_TABLES[NAME] makes, `<!-- end NAME -->`.
NAMED_TABLES = {  # the parameter frontier; time to 99.4%, the newest sitting and the one before it
    "frontier": frontier_table,
    "time": time_table,
    "time_fast2": lambda root: time_table(root, "time_fast2"),
}
NAMED_TABLE = re.compile(
    rf"(<!-- (?P<name>{'|'.join(NAMED_TABLES)}) -->\n)(?P<table>.*?)(<!-- end (?P=name) -->)", re.DOTALL
)
FRONTIER_PLOT = "docs/frontier.png"


def fill_doc_tables(text: str, root: Path) -> str:
    """`text` with every report block, frontier and time table refilled from the committed runs under `root`."""
    text = DOC_TABLE.sub(lambda m: f"{m.group(1)}{report_tables(root / m['folder'])}\n{m.group(4)}", text)
    return NAMED_TABLE.sub(lambda m: f"{m.group(1)}{NAMED_TABLES[m['name']](root)}\n{m.group(4)}", text)


COMMITTED_RESULTS = "outputs/results"


def committed_reports(root: Path) -> list[Path]:
    """The folders of committed results that hold a report (report.md) of whole run folders kept beside it. A report
    made before its runs were thinned to copied metrics files, or dropped, stays as it is: it names overrides that
    no file beside it keeps."""
    folders = (md.parent for md in sorted((root / COMMITTED_RESULTS).rglob("report.md")))
    return [folder for folder in folders if (jobs := find_jobs(folder)) and not any(j.named_setting for j in jobs)]


def update_docs(root: Path) -> None:
    """Refill the report blocks of README.md and docs/*.md, redraw the frontier plot and rewrite the committed
    results' reports in today's form: never typed by hand."""
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = doc.read_text()
        if fill_doc_tables(text, root) != text:
            doc.write_text(fill_doc_tables(text, root))
            print(f"updated {doc}")
    plot_frontier(frontier_rows(root), root / FRONTIER_PLOT)
    print(f"drew {root / FRONTIER_PLOT}")
    for folder in committed_reports(root):
        before = (folder / "report.md").read_text()
        if report(folder, shown=folder.relative_to(root)) != before:
            print(f"updated {folder / 'report.md'}")


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    """`python -m mnist_lightning.report <folder>` (no Hydra: a folder is all it takes); argv defaults to sys.argv."""
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--docs"]:
        if PROJECT_ROOT is None:
            raise UserError("report --docs refills the project's own docs: run it in a clone of mnist-lightning")
        return update_docs(PROJECT_ROOT)  # the project's README.md and docs/
    usage = "usage: python -m mnist_lightning.report <run or sweep folder>  (or --docs, in the project)"
    if argv in (["--help"], ["-h"]):
        print(usage + "\nwrites report.md, report.csv and curves.png into the folder and prints report.md")
        return None
    if len(argv) != 1:
        raise UserError(usage)
    folder = Path(argv[0])
    print(report(folder))
    print(f"wrote {folder / 'report.md'}, report.csv and curves.png beside it", file=sys.stderr)


if __name__ == "__main__":
    main()
