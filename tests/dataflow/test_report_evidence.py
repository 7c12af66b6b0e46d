"""The report with evidence: a status column in every STRIDE table, a coverage summary, and in the HTML a link from
each threat row to its evidence. Evidence is plain data (a dict per threat ID), as `parsec_tm.evidence` gives it."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from dataflow.catalogue import Catalogue
from dataflow.report import render_html, render_markdown, report_model, write_report


def _evidence(catalogue: Catalogue) -> dict[str, dict[str, Any]]:
    evidence: dict[str, dict[str, Any]] = {
        t.id: {"status": "tested", "evidence": [{"kind": "test", "ref": f"t.py::{t.id}", "outcome": "passed"}]}
        for t in catalogue.threats
    }
    evidence["A1-S-2"] = {
        "status": "failing",
        "evidence": [{"kind": "test", "ref": "t.py::brute_force", "outcome": "failed", "detail": "marked M-2"}],
    }
    evidence["A1-R-1"] = {"status": "no-evidence", "evidence": [], "reason": "logs are for people"}
    evidence["A11-I-1"] = {
        "status": "unmitigated",
        "evidence": [{"kind": "unmitigated", "ref": "U-5", "outcome": "unmitigated"}],
    }
    return evidence


class _Anchors(HTMLParser):
    """Collects the ids and the in-page links of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and (values.get("href") or "").startswith("#"):
            self.links.append(str(values["href"])[1:])


def test_every_stride_row_gets_its_status(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    markdown = render_markdown(report_model(catalogue, graph, evidence=_evidence(catalogue)))
    assert "|   | ID | Description | Mitigation | Assets | Evidence |" in markdown
    assert "| Crashes: M-0, M-5 Overloads: U-0 | AS6 | tested |" in markdown
    assert "| S | A1-S-2 |" in markdown and "| M-2 | AS1 | failing |" in markdown
    assert "| S |  | N/A |  |  |  |" in markdown
    assert "| failing | 1 |" in markdown and "| no-evidence | 1 |" in markdown
    assert "- **A1-R-1** (no-evidence): logs are for people" in markdown


def test_without_evidence_the_tables_are_the_seeds(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    markdown = render_markdown(report_model(catalogue, graph))
    assert "| Evidence |" not in markdown and "Evidence coverage" not in markdown


def test_a_row_the_evidence_omits_has_no_evidence(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    evidence = _evidence(catalogue)
    del evidence["A2-I-1"]
    model = report_model(catalogue, graph, evidence=evidence)
    row = next(r for a in model["attackers"] for r in a["rows"] if r["id"] == "A2-I-1")
    assert row["status"] == "no-evidence"
    assert "A2-I-1" in {miss["id"] for miss in model["evidence"]["misses"]}


def test_the_html_links_each_row_to_its_evidence_and_back(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    page = render_html(report_model(catalogue, graph, evidence=_evidence(catalogue)))
    anchors = _Anchors()
    anchors.feed(page)
    for threat in catalogue.threats:
        assert threat.id in anchors.ids and f"evidence-{threat.id}" in anchors.ids
        assert f"evidence-{threat.id}" in anchors.links and threat.id in anchors.links
    assert set(anchors.links) <= anchors.ids
    assert '<li class="failed"><strong>test</strong> <code>t.py::brute_force</code>: failed — marked M-2</li>' in page
    assert 'class="status status-failing"><a href="#evidence-A1-S-2">failing</a>' in page


@pytest.mark.parametrize("variant", ["with-idp", "no-idp"])
def test_write_report_passes_the_evidence_through(catalogue: Catalogue, tmp_path: Path, variant: str) -> None:
    from dataflow.graph import build_graph

    selected = catalogue.variant(variant)
    files = write_report(selected, build_graph(selected), tmp_path, (), evidence=_evidence(selected))
    assert "Evidence coverage" in files.markdown.read_text(encoding="utf-8")
    assert 'id="evidence-A4-T-1"' in files.html.read_text(encoding="utf-8")
