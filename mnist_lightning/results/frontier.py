"""The frontiers: parameters against final test accuracy over seeds (a table and a plot), and time to 99.4%.

Made by `python -m mnist_lightning.report --docs` from the committed runs in outputs/results/, like every
other results table in the docs.
"""

import statistics
from pathlib import Path
from typing import NamedTuple

from mnist_lightning.base.cpu_flags import speed_flags
from mnist_lightning.results.runs import TARGET_ACC, commit_of, find_jobs, is_test_result, markdown_table, pooled


def fit_and_test_flops(metrics: dict) -> tuple[float, bool] | None:
    """FLOPs of a run's training, validation and test pass, and whether metrics.json recorded them (0.5.0 on).

    For an earlier run they are counted now from its stored config: the network's FLOPs per image times the
    images of its epochs (validation: its images times the epochs that have a validation accuracy).
    """
    recorded = metrics.get("flops")
    if recorded and recorded.get("fit") and recorded.get("test"):
        return recorded["fit"] + recorded["test"], True
    from hydra.utils import instantiate

    from mnist_lightning.model.flops import flops_per_image
    from mnist_lightning.run.checkpoints import current_targets

    config = metrics.get("config") or {}
    if not metrics.get("train/images") or not metrics.get("test/images") or "net" not in config.get("model", {}):
        return None
    limit_val_batches = config.get("trainer", {}).get("limit_val_batches")
    whole = limit_val_batches is None or (isinstance(limit_val_batches, float) and limit_val_batches == 1.0)
    if not whole and limit_val_batches != 0:
        return None  # part of each validation set (an int is a number of batches): its images were not recorded
    per_image = flops_per_image(instantiate(current_targets(config["model"]["net"])))
    val_images = config["data"].get("val_size") or metrics["test/images"]  # val_size 0: validation on the test set
    validated_epochs = sum(1 for row in metrics.get("history", []) if row.get("val/acc") is not None)
    validated_epochs *= limit_val_batches != 0
    train = per_image["train"] * metrics["train/images"] * metrics["epochs"]
    val = per_image["forward"] * val_images * validated_epochs
    return train + val + per_image["forward"] * metrics["test/images"], False


# One committed folder of seeds per model recipe: (recipe, folder relative to the project, what code made it).
RECIPES = [
    ("reference", "outputs/results/v0.2.0/reference", "0.2.0"),
    ("fast_v1", "outputs/results/v0.5.0/time/fast_v1", "0.5.0"),
    ("fast_v2", "outputs/results/v0.5.0/time_fast3/fast_v2", "0.5.0"),
    ("fast", "outputs/results/v0.5.0/time_fast3/fast", "0.5.0"),
    ("compact", "outputs/results/compact", "older code"),
    ("tiny", "outputs/results/tiny", "older code"),
    ("micro", "outputs/results/v0.3.0/micro", "0.3.0"),
    ("nano", "outputs/results/v0.4.0/nano", "0.4.0"),
    ("nano_ema", "outputs/results/v0.5.0/nano_ema", "0.5.0"),
    ("pico6", "outputs/results/v0.5.0/pico6", "0.5.0"),
    ("pico_dilated", "outputs/results/v0.5.0/pico_dilated", "0.5.0"),
    ("pico_expanded", "outputs/results/v0.5.0/pico_expanded", "0.5.0"),
    ("pico_expanded60", "outputs/results/v0.5.0/pico_expanded60", "0.5.0"),
]
# Public claims of 99.4% on MNIST that issue #13 found: (parameters, accuracy %, label). Each is the best
# epoch of a single run on the test set, not a final-epoch mean over seeds as ours are.
PUBLIC_CLAIMS = [
    (4_838, 99.42, "public: 4,838 params (best epoch, 1 run)"),
    (7_000, 99.40, "public: most claims, 7-9k params"),
    (9_000, 99.40, None),
]
# The smallest public claims at the 99.0% level that issue #26 names: best epochs on the test set, not means.
PUBLIC_CLAIMS_99 = [(697, 99.03), (997, 99.05), (1_936, 99.13)]


class LabelPlace(NamedTuple):
    """Where the plot writes a recipe's label: `offset` (points) from its mean ("point") or the top or bottom of its
    bar, aligned `ha`, with a line to the point (`leader`); `x_scale` draws the point a little right of its size."""

    offset: tuple[float, float]
    ha: str = "left"
    anchor: str = "point"
    leader: bool = False
    x_scale: float = 1.0


RIGHT = LabelPlace((6, 0))  # a recipe not placed below: its label right of its point
LEFT = LabelPlace((-6, 0), "right")
ABOVE = LabelPlace((0, 11), "center", "top")
BELOW = LabelPlace((0, -11), "center", "bottom")
# Placed one by one: with 13 recipes in two clusters, rules that placed labels by their neighbours' sizes kept printing
# one label over another's bar. A new recipe is drawn RIGHT until placed here; test_docs fails while any label overlaps
# another label, a point, a bar or the legend, or leaves the axes.
LABEL_PLACES = {
    "reference": LabelPlace((0, 22), "center", "top", leader=True),  # above compact's label, which reaches under it
    "fast_v1": LabelPlace((36, 14), leader=True),  # three recipes of about 19,500 parameters: labels stacked right
    "fast": LabelPlace((36, 0), leader=True),
    "fast_v2": LabelPlace((36, -14), leader=True),
    "compact": ABOVE,
    "tiny": BELOW,
    "micro": ABOVE,
    "nano": LEFT,
    "nano_ema": LEFT,
    "pico6": LEFT,
    "pico_dilated": LabelPlace((-20, -22), "right", leader=True),  # below pico_expanded's, which shares its size
    "pico_expanded": LEFT,
    "pico_expanded60": LabelPlace((6, 0), x_scale=1.08),  # a third recipe of 695 parameters: its bar beside theirs
}


def frontier_rows(root: Path) -> list[dict[str, str]]:
    """One row per recipe with finished runs: parameters, seeds, mean, spread, and the code that made them."""
    rows = []
    for recipe, folder, code in RECIPES:
        if not (root / folder).is_dir():
            continue
        runs = [j.metrics for j in find_jobs(root / folder) if is_test_result(j.metrics)]
        if not runs:
            continue
        accs = [m["test/acc"] for m in runs]
        rows.append(
            {
                "recipe": f"experiment={recipe}",
                "params": f"{runs[0]['params']:,}",
                "seeds": str(len(accs)),
                **pooled(accs),
                "code": f"{code} ({', '.join(sorted({commit_of(m) for m in runs}))})",
                "runs": folder,
            }
        )
    return rows


def plot_frontier(rows: list[dict[str, str]], path: Path) -> None:
    """The frontier plot (draw_frontier) written to `path`."""
    import matplotlib.pyplot as plt

    fig = draw_frontier(rows)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_frontier(rows: list[dict[str, str]]) -> "matplotlib.figure.Figure":  # noqa: F821 (imported inside)
    """Parameters (log scale) against final test accuracy: mean with a min-max bar per recipe, public claims at the
    99.4% and the 99.0% level."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6.5))  # tall: the 99.4% recipes sit within 0.2 points of each other
    for row in rows:
        recipe = row["recipe"].split("=")[1]
        params, mean = int(row["params"].replace(",", "")), float(row["mean test acc %"])
        low, high = mean - float(row["min"]), float(row["max"]) - mean
        place = LABEL_PLACES.get(recipe, RIGHT)
        x = params * place.x_scale
        ax.errorbar(x, mean, yerr=[[low], [high]], fmt="o", capsize=4, color="tab:blue")
        drawn_at = f"; {params:,} params, drawn right" if place.x_scale != 1 else ""
        anchor = {"point": mean, "top": mean + high, "bottom": mean - low}[place.anchor]
        ax.annotate(
            f"{recipe} ({row['seeds']} seeds{drawn_at})",
            (x, anchor),
            xytext=place.offset,
            textcoords="offset points",
            ha=place.ha,
            va="center",
            fontsize=9,
            arrowprops={"arrowstyle": "-", "linewidth": 0.5} if place.leader else None,
        )
    claims = [(p, a) for p, a, _ in PUBLIC_CLAIMS]
    ax.plot(*zip(*claims[:1], strict=True), "s", color="tab:orange", label=PUBLIC_CLAIMS[0][2])
    ax.plot(*zip(*claims[1:], strict=True), "-", color="tab:orange", linewidth=3, alpha=0.5, label=PUBLIC_CLAIMS[1][2])
    sizes_99 = ", ".join(f"{params:,}" for params, _ in PUBLIC_CLAIMS_99)
    label = f"public: {sizes_99} params at 99.0% (best epochs on the test set)"
    ax.plot(*zip(*PUBLIC_CLAIMS_99, strict=True), "^", color="tab:red", label=label)
    ax.axhline(100 * TARGET_ACC, color="grey", linestyle="--", linewidth=1, label="99.40%")
    ax.axhline(99.0, color="grey", linestyle=":", linewidth=1, label="99.00%")
    ax.set_xscale("log")
    ax.set_xlim(180, 90_000)  # room for the labels left of the smallest recipes and right of the largest
    ax.set(xlabel="parameters (log scale)", ylabel="final-epoch test accuracy (%)")
    ax.set_title("Parameters against accuracy: mean over seeds, bars from min to max", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def frontier_table(root: Path) -> str:
    """The frontier as a markdown table: what the docs include between `<!-- frontier -->` markers."""
    return markdown_table(frontier_rows(root))


# The time frontier: sittings of recipes run back to back on one idle machine (machines differ too much to compare
# across sittings). Per sitting: its folder, and its recipes as (folder in the sitting, the recipe's name today);
# the first is the baseline the others are timed against. `time` is the newest, `time_fast2` the one before it,
# where today's fast_v2 was experiment=fast.
TIME_SITTINGS = {
    "time": ("outputs/results/v0.5.0/time_fast3", [("fast_v2", "fast_v2"), ("fast", "fast")]),
    "time_fast2": ("outputs/results/v0.5.0/time", [("fast_v1", "fast_v1"), ("fast", "fast_v2")]),
}


def time_rows(root: Path, sitting: str = "time") -> list[dict[str, str]]:
    """Per recipe of the sitting: accuracy over seeds and seconds of Trainer.fit plus the final test."""
    folder, recipes = TIME_SITTINGS[sitting]
    rows, baseline, baseline_machines = [], None, None
    for i, (subfolder, recipe) in enumerate(recipes):
        jobs = find_jobs(root / folder / subfolder)
        runs = [j.metrics for j in jobs if is_test_result(j.metrics) and j.metrics.get("test_seconds")]
        if not runs:
            continue
        accs = [m["test/acc"] for m in runs]
        fit = statistics.mean(m["train_seconds"] for m in runs)
        test = statistics.mean(m["test_seconds"] for m in runs)
        counted = [fit_and_test_flops(m) for m in runs]
        flops = statistics.mean(c[0] for c in counted) if all(counted) else None
        flops_note = "" if all(c and c[1] for c in counted) else " (from the config)"
        names, flag_lists = machines_of(runs), [m["provenance"].get("cpu_flags") for m in runs]
        machines = sorted(set(names))
        # One CPU name covers Xeons with and without AMX: the flags runs recorded tell those apart too
        identities = {(name, tuple(flags or ())) for name, flags in zip(names, flag_lists, strict=True)}
        if i == 0:
            baseline, baseline_machines = fit + test, identities
        if baseline is None:
            ratio = "- (no baseline runs)"
        elif identities != baseline_machines or len(identities) > 1:  # not one sitting on one machine: no ratio
            ratio = "- (other machines)"
        else:
            ratio = f"{(fit + test) / baseline:.2f}x"
        flags = {" ".join(f) for f in flag_lists if f is not None}
        if not flags and (root / folder / "lscpu.txt").is_file():  # runs from before provenance recorded the flags
            flags = {" ".join(speed_flags((root / folder / "lscpu.txt").read_text(), "Flags:") or [])}
        # Runs from before metrics.json said their precision: the config's (32-true unless set; never auto then)
        precisions = sorted({m.get("precision") or trainer_precision(m) for m in runs})
        ran_as = f" (ran as experiment={subfolder})" if subfolder != recipe else ""
        rows.append(
            {
                "recipe": f"experiment={recipe}{ran_as}",
                "params": f"{runs[0]['params']:,}",
                # A run that failed or was never tested is not averaged away silently: "2 of 3".
                "seeds": str(len(accs)) if len(accs) == len(jobs) else f"{len(accs)} of {len(jobs)}",
                **{key: value for key, value in pooled(accs).items() if key in ("mean test acc %", "min")},
                "precision": " / ".join(precisions),
                "fit s": f"{fit:.1f}",
                "test s": f"{test:.1f}",
                "fit + test s": f"{fit + test:.1f}",
                "fit + test TFLOP": f"{flops / 1e12:.2f}{flops_note}" if flops else "-",
                "GFLOP/s": f"{flops / 1e9 / (fit + test):.0f}" if flops else "-",
                f"vs {recipes[0][1]}": ratio,
                "machine": " / ".join(machines),
                "CPU flags": " / ".join(sorted(flags)) or "-",
                "code": ", ".join(sorted({commit_of(m) for m in runs})),
            }
        )
    return rows


def machines_of(runs: list[dict]) -> list[str]:
    """Each run's machine as the time table names it: CPU model and torch threads."""
    return [f"{m['provenance']['cpu']}, {m['provenance']['torch_threads']} threads" for m in runs]


def trainer_precision(metrics: dict) -> str:
    """The precision a run's stored config gave the Trainer; 32-true, Lightning's default, where it says none."""
    return str(((metrics.get("config") or {}).get("trainer") or {}).get("precision") or "32-true")


def time_table(root: Path, sitting: str = "time") -> str:
    """A time sitting as a markdown table: what the docs include between `<!-- time -->` (or `<!-- time_fast2 -->`)
    markers."""
    return markdown_table(time_rows(root, sitting))
