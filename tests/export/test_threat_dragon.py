"""The OWASP Threat Dragon v2 export: valid against Threat Dragon's published v2 schema, with the diagram's
components, flows and trust boundaries, and every threat row on the flows of its attacker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dataflow.catalogue import BUILTIN_MODELS, load_catalogue
from dataflow.graph import build_graph, flow_records, node_records
from parsec_tm.cli import main
from parsec_tm.export.schema import THREAT_DRAGON_SCHEMA, load_schema
from parsec_tm.export.threat_dragon import to_threat_dragon

VARIANTS = [(model, v.id) for model in BUILTIN_MODELS for v in load_catalogue(model=model).variants]
"""Every deployment of every built-in model: the seed's two, the current revision's configurations."""


def _cells(document: dict[str, Any]) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = document["detail"]["diagrams"][0]["cells"]
    return cells


@pytest.mark.parametrize(("model", "variant"), VARIANTS)
def test_the_export_is_a_valid_threat_dragon_v2_model(model: str, variant: str) -> None:
    catalogue = load_catalogue(model=model).variant(variant)
    document = json.loads(json.dumps(to_threat_dragon(catalogue, build_graph(catalogue))))
    schema = load_schema(THREAT_DRAGON_SCHEMA)
    jsonschema.Draft7Validator(schema).validate(document)
    # Threat Dragon keeps a cell's threats in its data; the schema describes them at the cell: hold them to it.
    cell_schema = schema["properties"]["detail"]["properties"]["diagrams"]["items"]["properties"]["cells"]["items"]
    for cell in _cells(document):
        jsonschema.Draft7Validator(cell_schema["properties"]["threats"]).validate(cell["data"].get("threats", []))


def test_components_flows_boundaries_and_threats_are_all_there() -> None:
    catalogue = load_catalogue()
    graph = build_graph(catalogue)
    cells = _cells(to_threat_dragon(catalogue, graph))
    by_shape: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        by_shape.setdefault(cell["shape"], []).append(cell)
    assert len(by_shape["actor"]) + len(by_shape["process"]) + len(by_shape["store"]) == len(node_records(graph))
    assert len(by_shape["flow"]) == len(flow_records(graph))
    assert len(by_shape["trust-boundary-box"]) == len(graph.graph["boundaries"])
    ids = {cell["id"] for cell in cells}
    assert all(f["source"]["cell"] in ids and f["target"]["cell"] in ids for f in by_shape["flow"])
    on_flows = {t["ruleId"] for f in by_shape["flow"] for t in f["data"]["threats"]}
    assert on_flows == {t.id for t in catalogue.threats}
    request = next(f for f in by_shape["flow"] if any(t["ruleId"] == "A1-T-1" for t in f["data"]["threats"]))
    threat = next(t for t in request["data"]["threats"] if t["ruleId"] == "A1-T-1")
    assert threat["type"] == "Tampering" and threat["status"] == "Mitigated" and threat["mitigation"].startswith("M-3")
    memory = next(t for f in by_shape["flow"] for t in f["data"]["threats"] if t["ruleId"] == "A11-I-1")
    assert memory["status"] == "Open"  # U-5: an accepted risk
    assert len({t["id"] for f in by_shape["flow"] for t in f["data"]["threats"]}) == sum(
        len(f["data"]["threats"]) for f in by_shape["flow"]
    )


def test_the_export_is_reproducible_and_the_command_writes_it(tmp_path: Path) -> None:
    out = tmp_path / "parsec.td.json"
    assert main(["export", "--format", "threat-dragon", "--out", str(out)]) == 0
    first = out.read_text(encoding="utf-8")
    assert main(["export", "--format", "threat-dragon", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == first
