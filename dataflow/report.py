"""The threat-model report: a plain-data model (dicts and lists) rendered to Markdown and HTML by Jinja templates.

Implements the seed's document layout as output: the deployment variant, assumptions, assets, one STRIDE table per
attacker laid out as the seed lays it out (N/A rows in place, the seed's Mitigation and Assets cells verbatim, plus
each threat's stable ID), the Unmitigations / Mitigations / Operational mitigations tables, and, from the dataflow
graph, the picture of the diagram, the flows with their attackers and trust boundaries, and the STRIDE coverage of
every boundary-crossing flow. The whole document's view (its first variant) says in which deployment configurations
each row applies; one threat's JSON shape is `dataflow.records.threat_record`.

Evidence, when given, is plain data: a dict per threat ID with its ``status`` (proved, tested, fuzzed, operational,
unmitigated, failing, no-evidence), its ``evidence`` items (``kind``, ``ref``, ``outcome``, ``detail``) and a
``reason`` where the row cannot have executable evidence; the report adds a status column to the STRIDE tables, a
coverage summary, and in the HTML a link from each row to its evidence. This package never computes evidence
(`parsec_tm.evidence` does, above it).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import networkx as nx
from markupsafe import Markup

from dataflow.catalogue import (
    MITIGATION_KIND_NAMES,
    STRIDE_NAMES,
    Catalogue,
    NotApplicable,
    Threat,
    differences_of,
)
from dataflow.checks import run_checks
from dataflow.graph import flow_records, flows_of_attacker
from dataflow.queries import FlowCoverage, stride_coverage

PICTURE_NAME = "dataflow"
MARKDOWN_NAME = "threat_model.md"
HTML_NAME = "threat_model.html"


Evidence = Mapping[str, Mapping[str, Any]]
"""Evidence per threat ID: ``{"status": str, "evidence": [{"kind", "ref", "outcome", "detail"}], "reason": str}``."""
EVIDENCE_STATUSES = ("failing", "proved", "tested", "fuzzed", "operational", "unmitigated", "no-evidence")
EXECUTABLE_STATUSES = ("proved", "tested", "fuzzed")


def report_model(
    catalogue: Catalogue, graph: nx.DiGraph, picture: str | None = None, evidence: Evidence | None = None
) -> dict[str, Any]:
    """The report as plain data; `picture` is the file name of the diagram image next to the report, if any;
    `evidence` the evidence per threat ID (see `Evidence`), if gathered."""
    variant = catalogue.variant_info()
    base_variant = catalogue.variants[0]
    flows = flow_records(graph)
    coverage = stride_coverage(catalogue, graph)
    return {
        "title": "Parsec threat model",
        "variant": {
            "id": variant.id,
            "title": variant.title,
            "description": variant.description,
            "scope_note": variant.scope_note,
            "contingent_on": list(variant.contingent_on),
            "exclusions": [asdict(e) for e in variant.exclusions],
            "is_base": variant.id == base_variant.id,
        },
        "summary": {
            "threats": len(catalogue.threats),
            "not_applicable": len(catalogue.not_applicable),
            "attackers": len(catalogue.attackers),
            "flows": len(flows),
            "crossing_flows": sum(1 for f in flows if f["crosses_boundary"]),
        },
        "assumptions": [asdict(a) for a in catalogue.assumptions],
        "assets": [
            {
                "id": a.id,
                "name": a.name,
                "description": a.description,
                "properties": [
                    {"name": name, "text": text}
                    for name, text in (
                        ("Confidentiality", a.confidentiality),
                        ("Integrity", a.integrity),
                        ("Availability", a.availability),
                    )
                    if text
                ],
            }
            for a in catalogue.assets
        ],
        "attackers": [
            {
                "id": a.id,
                "name": a.name,
                "description": a.description,
                "flows": [graph.edges[u, v]["flow"] for u, v in flows_of_attacker(graph, a.id)],
                "rows": [_row(catalogue, row, evidence) for row in catalogue.analysis_rows(a.id)],
            }
            for a in catalogue.attackers
        ],
        "mitigation_tables": [
            {
                "kind": kind,
                "title": f"{name}s",
                "details_column": "Consequences" if kind == "U" else "Details",
                "entries": [asdict(m) for m in catalogue.mitigations_of_kind(kind)],  # type: ignore[arg-type]
            }
            for kind, name in MITIGATION_KIND_NAMES.items()
        ],
        "flows": flows,
        "boundaries": [asdict(b) for b in graph.graph["boundaries"].values()],
        "coverage": [asdict(c) for c in coverage],
        "coverage_notes": _coverage_notes(coverage),
        "stride_names": dict(STRIDE_NAMES),
        "problems": [str(p) for p in run_checks(catalogue, graph)],
        "differences": list(differences_of(catalogue)),
        "picture": picture,
        "evidence": _evidence_summary(catalogue, evidence),
        # The whole document of a revision with deployment configurations: say which rows apply where.
        "configurations_column": variant.id == base_variant.id and variant.id not in catalogue.configurations,
    }


def _evidence_summary(catalogue: Catalogue, evidence: Evidence | None) -> dict[str, Any] | None:
    """Counts per status, the M- rows backed by passing executable evidence, and the rows that miss that goal."""
    if evidence is None:
        return None
    statuses = {t.id: str(evidence.get(t.id, {}).get("status", "no-evidence")) for t in catalogue.threats}
    counts = Counter(statuses.values())
    with_m = [t for t in catalogue.threats if any(m.startswith("M-") for m in t.mitigations)]
    misses = [
        {"id": t.id, "status": statuses[t.id], "reason": str(evidence.get(t.id, {}).get("reason", ""))}
        for t in catalogue.threats
        if statuses[t.id] in ("failing", "no-evidence") or (t in with_m and statuses[t.id] not in EXECUTABLE_STATUSES)
    ]
    return {
        "statuses": [{"status": s, "count": counts.get(s, 0)} for s in EVIDENCE_STATUSES],
        "threats": len(catalogue.threats),
        "with_m_mitigation": len(with_m),
        "with_m_mitigation_backed": sum(1 for t in with_m if statuses[t.id] in EXECUTABLE_STATUSES),
        "misses": misses,
    }


def _coverage_notes(coverage: list[FlowCoverage]) -> list[dict[str, str]]:
    """The reasons behind letters that are not analysed, grouped by flow, status and reason."""
    letters: dict[tuple[str, str, str], str] = {}
    for flow in coverage:
        for letter in flow.letters:
            if letter.reason and letter.status != "analysed":
                key = (flow.flow, letter.status, letter.reason)
                letters[key] = letters.get(key, "") + letter.letter
    return [
        {"flow": flow, "status": status, "letters": grouped, "reason": reason}
        for (flow, status, reason), grouped in letters.items()
    ]


def _row(catalogue: Catalogue, row: Threat | NotApplicable, evidence: Evidence | None = None) -> dict[str, Any]:
    if isinstance(row, NotApplicable):
        return {
            "letter": row.stride,
            "id": "",
            "description": row.text,
            "mitigations": "",
            "assets": "",
            "configurations": "",
            "status": "",
            "evidence": [],
            "reason": "",
        }
    found = evidence.get(row.id, {}) if evidence is not None else {}
    return {
        "letter": row.stride,
        "id": row.id,
        "description": row.description,
        "mitigations": row.mitigations_cell,
        "assets": row.assets_cell,
        "configurations": ", ".join(catalogue.configurations_of(row.id)),
        "status": str(found.get("status", "no-evidence")) if evidence is not None else "",
        "evidence": [
            {key: str(item.get(key, "")) for key in ("kind", "ref", "outcome", "detail")}
            for item in found.get("evidence", ())
        ],
        "reason": str(found.get("reason", "")),
    }


def _inline_markdown(text: str) -> Markup:
    """Escape `text` for HTML, then render its inline Markdown: `code` spans and [links](url)."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r'<a href="\2">\1</a>', escaped)
    return Markup(escaped)


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@cache
def _environment(autoescape: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("dataflow", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["inline"] = _inline_markdown
    environment.filters["cell"] = _markdown_cell
    return environment


def render_markdown(model: dict[str, Any]) -> str:
    """The report model as Markdown."""
    return _environment(False).get_template("report.md.j2").render(**model)


def render_html(model: dict[str, Any]) -> str:
    """The report model as a standalone HTML page."""
    return _environment(True).get_template("report.html.j2").render(**model)


@dataclass(frozen=True)
class ReportFiles:
    """The files `write_report` wrote."""

    markdown: Path
    html: Path
    pictures: tuple[Path, ...]


def write_report(
    catalogue: Catalogue,
    graph: nx.DiGraph,
    out_dir: str | Path,
    picture_formats: tuple[str, ...] = ("svg", "png"),
    evidence: Evidence | None = None,
) -> ReportFiles:
    """Write the Markdown and HTML reports to `out_dir`, with the diagram picture in each of `picture_formats` and,
    if given, the evidence per threat ID."""
    from dataflow.picture import draw_dataflow

    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    pictures = draw_dataflow(graph, [directory / f"{PICTURE_NAME}.{suffix}" for suffix in picture_formats])
    model = report_model(catalogue, graph, picture=pictures[0].name if pictures else None, evidence=evidence)
    markdown = directory / MARKDOWN_NAME
    markdown.write_text(render_markdown(model), encoding="utf-8")
    page = directory / HTML_NAME
    page.write_text(render_html(model), encoding="utf-8")
    return ReportFiles(markdown, page, tuple(pictures))
