"""The docs' results tables are the output of `report` on the committed run files, and stay so."""

import re
from pathlib import Path

import pytest

from mnist_lightning.report import DOC_TABLE, committed_reports, fill_doc_tables, report_csv, report_markdown
from mnist_lightning.results.runs import find_jobs

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_results_table_matches_the_report_of_its_committed_runs(doc):
    text = doc.read_text()
    for block in DOC_TABLE.finditer(text):
        assert (ROOT / block["folder"]).is_dir(), f"{doc.name}: {block['folder']} is not committed"
        assert block["tables"].strip(), f"{doc.name}: the table of {block['folder']} is empty"
    assert fill_doc_tables(text, ROOT) == text, f"{doc.name} differs from `python -m mnist_lightning.report --docs`"


def test_the_committed_results_reports_are_what_report_writes_of_their_runs_today():
    # report --docs rewrites them: a change to report's tables shows in every committed report, or fails here
    folders = committed_reports(ROOT)
    assert len(folders) >= 10 and ROOT / "outputs/results/v0.5.0/pico_expanded" in folders
    for folder in folders:
        jobs, shown = find_jobs(folder), folder.relative_to(ROOT)
        assert (folder / "report.md").read_text() == report_markdown(jobs, folder, shown), f"{shown}/report.md"
        csv_text = (folder / "report.csv").read_bytes().decode()  # as written: csv ends its rows in \r\n
        assert csv_text == report_csv(jobs, folder), f"{shown}/report.csv"
    # One whose runs were thinned to copied metrics keeps its report: it names overrides no file beside it has
    assert ROOT / "outputs/results/reference" not in folders
    assert "seed=1 torch_threads=1" in (ROOT / "outputs/results/reference/report.md").read_text()


def test_the_docs_have_generated_tables_and_a_short_readme():
    folders = {block["folder"] for doc in DOCS for block in DOC_TABLE.finditer(doc.read_text())}
    assert {"outputs/results/v0.2.0/reference", "outputs/results/reference", "outputs/results/fast"} <= folders
    assert "outputs/results/v0.2.0/reference" in (ROOT / "README.md").read_text()  # its one results table
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_the_frontier_table_and_plot_are_in_the_docs_and_cover_every_recipe_with_runs():
    from mnist_lightning.results.frontier import RECIPES, frontier_rows

    results = (ROOT / "docs" / "results.md").read_text()
    assert results.count("<!-- frontier -->") == 1 and "(frontier.png)" in results
    assert "docs/frontier.png" in (ROOT / "README.md").read_text() and (ROOT / "docs" / "frontier.png").is_file()
    recipes = {row["recipe"] for row in frontier_rows(ROOT)}
    assert recipes == {f"experiment={name}" for name, folder, _ in RECIPES if (ROOT / folder).is_dir()}
    assert {"experiment=reference", "experiment=micro"} <= recipes


def test_the_frontier_plot_labels_overlap_no_other_label_point_bar_or_legend_and_stay_inside_the_axes():
    # Labels were placed by rules on their neighbours' sizes, and each new recipe pushed one onto another's bar.
    from matplotlib.collections import LineCollection
    from matplotlib.text import Annotation, Text
    from matplotlib.transforms import Bbox

    from mnist_lightning.results.frontier import draw_frontier, frontier_rows

    fig = draw_frontier(frontier_rows(ROOT))
    fig.set_dpi(110)  # as saved
    fig.canvas.draw()  # the annotations' places are known once drawn
    renderer = fig.canvas.get_renderer()
    [ax] = fig.axes
    # The text's own box (an Annotation's box takes in its leader line), a little inside its corners
    text_box = {a.get_text(): Text.get_window_extent(a, renderer) for a in ax.texts if isinstance(a, Annotation)}
    labels = {text: box.padded(-1) for text, box in text_box.items()}
    assert len(labels) == len(frontier_rows(ROOT))
    marks = [line.get_window_extent(renderer) for line in ax.lines if line.get_transform() == ax.transData]
    for bars in ax.collections:  # each recipe's min-max bar, as a thin box around its segment
        if isinstance(bars, LineCollection):
            marks += [Bbox(ax.transData.transform(segment)).padded(1) for segment in bars.get_segments()]
    marks.append(ax.get_legend().get_window_extent(renderer))
    inside = ax.get_window_extent(renderer)
    for text, box in labels.items():
        assert inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1), text
        assert not [other for other, o in labels.items() if other != text and box.overlaps(o)], text
        assert not [mark for mark in marks if box.overlaps(mark)], text


@pytest.mark.parametrize("name", ["time", "time_fast2"])
def test_each_time_sitting_is_in_speed_md_and_ran_its_recipes_on_one_machine_at_one_commit(name):
    from mnist_lightning.results.frontier import TIME_SITTINGS, time_rows

    speed = (ROOT / "docs" / "speed.md").read_text()
    assert speed.count(f"<!-- {name} -->") == 1 and speed.count(f"<!-- end {name} -->") == 1
    folder, recipes = TIME_SITTINGS[name]
    ran_as = {
        recipe: f" (ran as experiment={subfolder})" if subfolder != recipe else "" for subfolder, recipe in recipes
    }
    assert [row["recipe"] for row in time_rows(ROOT, name)] == [f"experiment={r}{ran_as[r]}" for _, r in recipes]
    sitting = set()
    for subfolder, _ in recipes:  # every timed run ran that recipe, with nothing but its seed changed
        jobs = find_jobs(ROOT / folder / subfolder)
        assert sorted(job.metrics["seed"] for job in jobs) == [1, 2, 3]
        for job in jobs:
            assert job.overrides == [f"experiment={subfolder}", f"seed={job.metrics['seed']}"], job.folder
            assert job.metrics["test/images"] == 10_000 and not job.metrics["provenance"]["git_dirty"]
            provenance = job.metrics["provenance"]
            sitting.add((provenance["git_commit"], provenance["cpu"], provenance["torch_threads"]))
    assert len(sitting) == 1  # one commit, one machine, one thread count: a comparison within one sitting
    [(commit, _, _)] = sitting
    assert f"commit `{commit[:7]}` with a clean tree" in speed  # speed.md names the sitting's commit


def test_the_newest_time_sitting_clears_the_bar_speed_md_states_and_the_docs_quote_it():
    from mnist_lightning.results.frontier import RECIPES, TIME_SITTINGS, time_rows

    speed = (ROOT / "docs" / "speed.md").read_text()
    fast = time_rows(ROOT)[-1]
    baseline = TIME_SITTINGS["time"][1][0][1]
    ratio = fast[f"vs {baseline}"]
    headline = f"reaches {fast['mean test acc %']}% mean (no seed below {fast['min']}%) in {ratio}"
    assert headline in speed.replace("\n", " ")
    # ... and the bar speed.md says it clears (issue 26): mean >= 99.40%, no seed below 99.35%, at most 0.5x.
    assert float(fast["mean test acc %"]) >= 99.40 and float(fast["min"]) >= 99.35 and float(ratio[:-1]) <= 0.5
    assert "(99.40% mean, no seed below 99.35%, at most 0.5x)" in speed.replace("\n", " ")
    # The newest version's section of the changelog: an older sitting's figures stay in older sections.
    changelog = (ROOT / "CHANGELOG.md").read_text()
    newest = changelog.split("\n## ")[1]
    assert f"{fast['mean test acc %']}% mean in {fast['fit + test s']} s" in newest
    assert f"about {round(float(fast['fit + test s']))} s" in (ROOT / "README.md").read_text()
    # The frontier table's rows of these recipes come from the newest sitting that timed them.
    folders = {name: folder for name, folder, _ in RECIPES}
    timed = {}
    for folder, recipes in reversed(TIME_SITTINGS.values()):  # oldest first, so a newer sitting wins
        timed |= {recipe: f"{folder}/{subfolder}" for subfolder, recipe in recipes}
    assert all(folders[recipe] == folder for recipe, folder in timed.items())


def heading_anchors(doc: Path) -> set[str]:
    """The #anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"(?ms)^```.*?^```", "", doc.read_text())  # a # in a code block is no heading
    anchors: list[str] = []
    for heading in re.findall(r"(?m)^#{1,6} (.+?)\s*$", text):
        anchor = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        repeats = sum(1 for a in anchors if a == anchor or re.fullmatch(rf"{re.escape(anchor)}-\d+", a))
        anchors.append(f"{anchor}-{repeats}" if repeats else anchor)  # a repeated heading: -1, -2, ...
    return set(anchors)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_and_its_anchor_resolve(doc):
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?(?:\s+\"[^\"]*\")?\)", doc.read_text()):
        if "://" in target:
            continue
        page = doc.parent / target if target else doc
        assert page.exists(), f"{doc.name} links to {target}, which does not exist"
        if anchor and page.suffix == ".md":
            assert anchor in heading_anchors(page), f"{doc.name} links to {target}#{anchor}: no such heading"


def test_the_photo_tables_are_the_committed_outputs_of_the_photos_command():
    page = (ROOT / "docs" / "predict.md").read_text()
    outputs = sorted((ROOT / "outputs" / "results").glob("v*/photos/*.md"))
    assert len(outputs) == 3  # 0.2.0's reference and fast; 0.5.0's committed reference model
    for output in outputs:
        text = output.read_text()
        assert text[text.index("| condition") :].strip() in page, output.name


def test_the_readme_names_every_recipe_with_its_parameter_count_and_folders_as_hydra_names_them():
    from conftest import CONF_DIR, compose_train_config
    from hydra.utils import instantiate

    from mnist_lightning.model.budget import count_params

    quickstart = (ROOT / "README.md").read_text().split("## Quickstart", 1)[1].split("```", 2)[1]
    for recipe in sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")):
        net = instantiate(compose_train_config(Path("/tmp"), [f"experiment={recipe}"]).model.net)
        params = f"{count_params(net):,}"  # as counted for the budget: an expanded network's folded weights
        beside = rf"experiment={recipe} +# {params} parameters|{recipe}: {params}\b"
        if recipe == "reference":  # the default: the command without an experiment
            beside = rf"mnist_lightning.train +# the seed recipe, {params} parameters"
        assert re.search(beside, quickstart), (recipe, params)
    readme = (ROOT / "README.md").read_text()
    # Run folders as Hydra names them (conf/hydra/default.yaml: time with microseconds), not a bare <time>.
    assert re.search(r"outputs/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d-\d{6}/", readme)
    # The install size, dated (it grows with the extras), and how to get a CPU-only torch.
    assert re.search(r"about \d+ GB \([\d.]+ GB here on \d{4}-\d\d-\d\d", readme)
    assert "download.pytorch.org/whl/cpu" in readme


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(doc, command, arguments) of every `python -m mnist_lightning.<command> ...` line in the docs' shell blocks
    (```bash, ```sh, ```console or no language), continuation lines joined. A placeholder (<run>) becomes a name, as a
    user fills it in; lines with a shell variable or an ellipsis, and those with a user's --config-dir, are left out."""
    import shlex

    commands = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        blocks, block, language = [], None, ""
        for line in doc.read_text().splitlines():  # fence by fence, so a ```python block is not read as shell
            if line.lstrip().startswith("```"):
                if block is None:
                    block, language = [], line.strip()[3:]
                else:
                    blocks += [block] if language in ("bash", "sh", "console", "") else []
                    block = None
            elif block is not None:
                block.append(line)
        for text in blocks:
            for line in "\n".join(text).replace("\\\n", " ").splitlines():
                found = re.search(r"python -m mnist_lightning\.(\w+)(.*)", line)
                if not found or found.group(1) == "report":  # report takes a folder, not overrides
                    continue
                arguments = re.split(r"\s#\s|\s#$|\s+[|;&>]|\s+2>", " " + found.group(2))[
                    0
                ]  # no comment, pipe, redirect
                if arguments.count('"') % 2:  # the end of a command quoted for sbatch --wrap "python -m ..."
                    arguments = arguments[: arguments.rindex('"')]
                arguments = re.sub(r"<[^<>]*>", "placeholder", arguments)
                if not any(mark in arguments for mark in ("$", "...", "--config-dir")):
                    commands.append((doc.name, found.group(1), shlex.split(arguments)))
    return commands


def test_every_documented_command_passes_the_early_check(capsys, monkeypatch):
    # A renamed option or config group breaks the docs' commands silently; the early check (misspelled names, unknown
    # group options, types, ranges) composes each one as its command would, before torch, so it finds them.
    from mnist_lightning.base import checkpoint_path
    from mnist_lightning.base.command_line import check_command_line
    from mnist_lightning.base.errors import UserError

    # A documented checkpoint is the user's own file (<run>/checkpoints/last.ckpt): taken as there.
    monkeypatch.setattr(checkpoint_path, "checkpoint_path_error", lambda path: None)

    commands = documented_commands()
    assert len(commands) >= 50  # the README and docs/usage.md alone have more: the parsing found them
    refused = []
    for doc, command, arguments in commands:
        try:
            check_command_line(command, arguments)
        except (UserError, SystemExit) as error:  # the early check prints its line and exits with code 2
            said = str(error) if isinstance(error, UserError) else capsys.readouterr().err.strip()
            refused.append(f"{doc}: python -m mnist_lightning.{command} {' '.join(arguments)}: {said}")
    assert not refused, "\n".join(refused)


def test_the_layout_in_reference_md_names_every_module_and_command_config():
    # A newcomer finds a file from the map: each module, under its own folder's entry (base/'s under `base/`), and
    # each command's config. Files are added often; the map fell behind (run/precision.py, model/flops.py, ...).
    text = (ROOT / "docs" / "reference.md").read_text()
    layout = text.split("## Layout", 1)[1].split("```", 2)[1]
    entries = re.split(r"\n(?=\S|  \S)", layout)  # one per line that starts a folder's or a file's entry

    def entry_of(folder: str) -> str:
        found = [e for e in entries if e.strip().startswith(folder)]
        assert found, f"no entry for {folder} in reference.md's layout"
        return found[0]

    for path in sorted([*(ROOT / "mnist_lightning").rglob("*.py"), *(ROOT / "hydra_plugins").rglob("*.py")]):
        if path.name == "__init__.py":
            continue
        relative = path.relative_to(ROOT)
        if relative.parent == Path("mnist_lightning"):  # a command: the first words of a line of its own
            assert re.search(rf"^  (\S+ )*{re.escape(path.name)}", layout, re.M), f"{relative} is not in the layout"
        else:
            entry = entry_of(f"{relative.parts[-2]}/")
            assert re.search(rf"(?<![\w/]){re.escape(path.name)}", entry), f"{relative} is not in the layout"
    for config in sorted((ROOT / "conf").glob("*.yaml")):
        assert config.name in entry_of("conf/"), f"conf/{config.name} is not in the layout"
