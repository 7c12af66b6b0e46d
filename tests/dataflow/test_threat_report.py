"""The report: the plain-data model, Markdown and HTML with every threat ID and the seed's tables, the picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest

from dataflow.catalogue import Catalogue
from dataflow.graph import build_graph
from dataflow.records import threat_record
from dataflow.report import ReportFiles, render_html, render_markdown, report_model, write_report


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue, graph: nx.DiGraph) -> ReportFiles:
    return write_report(catalogue, graph, tmp_path_factory.mktemp("report"), ("svg", "png"))


def test_markdown_and_html_name_every_threat(written: ReportFiles, catalogue: Catalogue) -> None:
    markdown = written.markdown.read_text(encoding="utf-8")
    page = written.html.read_text(encoding="utf-8")
    for threat in catalogue.threats:
        assert f"| {threat.id} |" in markdown
        assert f'id="{threat.id}"' in page


def test_the_stride_tables_are_laid_out_as_in_the_seed(written: ReportFiles) -> None:
    markdown = written.markdown.read_text(encoding="utf-8")
    overload = (
        "| D | A1-D-2 | An attacker overloads/crashes the system and thus prevents any other user from making use of "
        "the service. | Crashes: M-0, M-5 Overloads: U-0 | AS6 |"
    )
    assert overload in markdown
    assert "| S |  | N/A |  |  |" in markdown
    assert "| S | A10-S-1 | The initial trust bundle can be spoofed" in markdown
    assert "| O-7 | AS2 and then all |" in markdown
    assert "| Depends on the attack |" in markdown


def test_the_html_renders_inline_markdown_and_escapes(written: ReportFiles) -> None:
    page = written.html.read_text(encoding="utf-8")
    assert "<code>SIGHUP</code>" in page
    assert '<a href="https://github.com/parallaxsecond/parsec/issues/122">This is looked at here</a>' in page
    assert "An attacker can read the confidential information" in page
    assert page.count("<table>") == page.count("</table>") == 17
    assert page.count("<tr") == page.count("</tr>")


def test_the_pictures_are_written(written: ReportFiles) -> None:
    svg, png = written.pictures
    assert svg.suffix == ".svg" and png.suffix == ".png"
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text(encoding="utf-8")
    assert "A10" in text and "Key Triple" in text
    assert png.read_bytes().startswith(b"\x89PNG")
    assert f"![Dataflow diagram]({svg.name})" in written.markdown.read_text(encoding="utf-8")


def test_the_report_model_is_plain_data(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    model = report_model(catalogue, graph)
    assert model["summary"] == {"threats": 68, "not_applicable": 7, "attackers": 11, "flows": 47, "crossing_flows": 15}
    assert model["problems"] == []
    a3 = next(a for a in model["attackers"] if a["id"] == "A3")
    assert [row["id"] for row in a3["rows"]] == ["", "A3-T-1", "", "", "A3-D-1", ""]
    assert [table["details_column"] for table in model["mitigation_tables"]] == ["Consequences", "Details", "Details"]


def test_the_no_idp_report(no_idp: Catalogue) -> None:
    model = report_model(no_idp, build_graph(no_idp))
    markdown = render_markdown(model)
    assert "## Out of scope in this deployment" in markdown
    assert "A1-S-1" not in markdown
    assert "Contingent on: O-10." in markdown
    assert "client_request | client_library | listener |  (out of scope: A1)" in markdown
    assert "A1-S-1" not in render_html(model)


def test_threat_record_is_the_json_shape(catalogue: Catalogue) -> None:
    assert threat_record(catalogue, catalogue.threat("A1-D-2")) == {
        "id": "A1-D-2",
        "attacker": "A1",
        "attacker_name": "Client Request",
        "stride": "D",
        "description": "An attacker overloads/crashes the system and thus prevents any other user from making use of "
        "the service.",
        "mitigations": ["M-0", "M-5", "U-0"],
        "assets": ["AS6"],
        "notes": ["Crashes: M-0, M-5", "Overloads: U-0"],
        "configurations": ["with-idp"],  # A1 (the client request carrying an IdP token) is out of scope without one
    }


def test_the_whole_revision_says_where_each_row_applies_and_a_configuration_does_not() -> None:
    from dataflow.catalogue import load_catalogue
    from dataflow.graph import build_graph

    current = load_catalogue(model="current")
    whole = report_model(current, build_graph(current))
    assert whole["configurations_column"]
    rows = {row["id"]: row for attacker in whole["attackers"] for row in attacker["rows"] if row["id"]}
    assert rows["A1-S-1"]["configurations"] == ", ".join(current.configurations_of("A1-S-1")) == "GNRC, JWTS"
    assert "| Configurations |" in render_markdown(whole)
    assert "<th>Configurations</th>" in render_html(whole)
    jwts = current.variant("JWTS")
    assert not report_model(jwts, build_graph(jwts))["configurations_column"]
    seed = load_catalogue()
    assert not report_model(seed, build_graph(seed))["configurations_column"]


def test_a_report_without_picture(tmp_path: Path, catalogue: Catalogue, graph: nx.DiGraph) -> None:
    files = write_report(catalogue, graph, tmp_path, ())
    assert files.pictures == ()
    assert "![Dataflow diagram]" not in files.markdown.read_text(encoding="utf-8")
