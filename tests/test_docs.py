"""The docs' results tables are the output of `report` on the committed run files, and stay so."""

import re
from pathlib import Path

import pytest

from mnist_lightning.report import DOC_TABLE, fill_doc_tables

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_results_table_matches_the_report_of_its_committed_runs(doc):
    text = doc.read_text()
    for block in DOC_TABLE.finditer(text):
        assert (ROOT / block["folder"]).is_dir(), f"{doc.name}: {block['folder']} is not committed"
        assert block["tables"].strip(), f"{doc.name}: the table of {block['folder']} is empty"
    assert fill_doc_tables(text, ROOT) == text, f"{doc.name} differs from `python -m mnist_lightning.report --docs`"


def test_the_docs_have_generated_tables():
    assert sum(len(DOC_TABLE.findall(doc.read_text())) for doc in DOCS) >= 4


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
        if "://" not in target:
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"
