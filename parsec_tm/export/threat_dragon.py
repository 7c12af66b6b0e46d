"""An OWASP Threat Dragon v2 model of the Parsec threat model: one STRIDE diagram with the dataflow graph's
components, flows and trust boundaries, and each threat row on the flow its attacker sits on.

Cells follow Threat Dragon 2's own shapes: external entities are ``actor`` cells (``tm.Actor``), processes
``process`` (``tm.Process``), data stores ``store`` (``tm.Store``), flows ``flow`` (``tm.Flow``, from source cell to
target cell) and each trust boundary a ``trust-boundary-box`` (``tm.BoundaryBox``) drawn around its members. Boxes
are placed by the report picture's layout (`dataflow.picture.layout`). A threat is ``Mitigated`` when its row names
an M- or O- mitigation, ``Open`` when it names only U- entries (accepted risks) or assumptions; the seed rates no
severity, so it is left empty. Cell and threat IDs are UUIDs derived from the catalogue IDs, so an export is
reproducible.
"""

from __future__ import annotations

import uuid
from typing import Any

import networkx as nx

from dataflow.catalogue import STRIDE_NAMES, Catalogue, Threat
from dataflow.graph import boundary_members, flow_records, node_records

TD_VERSION = "2.2.0"
NAMESPACE = uuid.UUID("5b0f6a36-0a55-4c83-9d7e-8f1a2b3c4d5e")
SCALE_X, SCALE_Y = 90.0, 110.0
NODE_WIDTH, NODE_HEIGHT = 160.0, 80.0
MARGIN = 40.0
SHAPES = {
    "external entity": ("actor", "tm.Actor"),
    "process": ("process", "tm.Process"),
    "data store": ("store", "tm.Store"),
}
BOUNDARY_STROKE = {"trusted": "#2e7d32", "non-trusted": "#c62828", "trusted-out-of-scope": "#e6965a"}


def cell_id(kind: str, name: str) -> str:
    """A stable UUID for a cell or threat of the export."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def to_threat_dragon(catalogue: Catalogue, graph: nx.DiGraph) -> dict[str, Any]:
    """The Threat Dragon v2 model of `catalogue` (one variant) and its dataflow graph."""
    from dataflow.picture import layout

    positions = layout(graph)
    xs = [x for x, _ in positions.values()] or [0.0]
    ys = [y for _, y in positions.values()] or [0.0]
    origin_x, top_y = min(xs), max(ys)
    boxes = {
        node: (MARGIN * 2 + (x - origin_x) * SCALE_X, MARGIN * 2 + (top_y - y) * SCALE_Y)
        for node, (x, y) in positions.items()
    }
    numbers = {t.id: n for n, t in enumerate(catalogue.threats, start=1)}
    threats_by_attacker: dict[str, list[Threat]] = {}
    for threat in catalogue.threats:
        threats_by_attacker.setdefault(threat.attacker, []).append(threat)
    cells: list[dict[str, Any]] = []
    members = boundary_members(graph)
    for boundary in graph.graph["boundaries"].values():
        inside = [boxes[n] for n in members.get(boundary.id, []) if n in boxes]
        if inside:
            cells.append(_boundary_cell(boundary.id, boundary.label, boundary.description, inside))
    cells += [_node_cell(node, boxes[node["id"]]) for node in node_records(graph)]
    cells += [
        _flow_cell(flow, [t for a in flow["attackers"] for t in threats_by_attacker.get(a, [])], numbers, catalogue)
        for flow in flow_records(graph)
    ]
    variant = catalogue.variant_info()
    return {
        "version": TD_VERSION,
        "summary": {
            "title": f"Parsec threat model ({variant.title})",
            "owner": "Parsec",
            "description": variant.description,
            "id": 0,
        },
        "detail": {
            "contributors": [],
            "diagrams": [
                {
                    "id": 0,
                    "title": f"Parsec dataflow diagram ({catalogue.variant_id})",
                    "diagramType": "STRIDE",
                    "placeholder": "The Parsec service, its clients, providers and stores, with trust boundaries",
                    "thumbnail": "./public/content/images/thumbnail.stride.jpg",
                    "version": TD_VERSION,
                    "description": f"Exported by parsec-tm from the catalogue, variant {catalogue.variant_id}",
                    "cells": cells,
                }
            ],
            "diagramTop": 1,
            "reviewer": "",
            "threatTop": len(catalogue.threats),
        },
    }


def _body(stroke: str, dashed: bool = False) -> dict[str, Any]:
    return {"stroke": stroke, "strokeWidth": 1.5, "strokeDasharray": "4 3" if dashed else ""}


def _boundary_cell(boundary_id: str, label: str, description: str, inside: list[tuple[float, float]]) -> dict[str, Any]:
    left = min(x for x, _ in inside) - MARGIN
    top = min(y for _, y in inside) - MARGIN
    width = max(x for x, _ in inside) + NODE_WIDTH + MARGIN - left
    height = max(y for _, y in inside) + NODE_HEIGHT + MARGIN - top
    return {
        "id": cell_id("boundary", boundary_id),
        "shape": "trust-boundary-box",
        "zIndex": -1,
        "visible": True,
        "position": {"x": left, "y": top},
        "size": {"width": width, "height": height},
        "attrs": {"label": {"text": label}, "body": _body(BOUNDARY_STROKE.get(boundary_id, "#333333"), dashed=True)},
        "data": {
            "type": "tm.BoundaryBox",
            "name": label,
            "description": description,
            "isTrustBoundary": True,
            "hasOpenThreats": False,
        },
    }


def _node_cell(node: dict[str, Any], position: tuple[float, float]) -> dict[str, Any]:
    shape, kind = SHAPES[node["kind"]]
    data: dict[str, Any] = {
        "type": kind,
        "name": node["label"],
        "description": f"{node['label']} ({node['kind']}, {node['boundary']})"
        + (f"; code: {node['code']}" if node.get("code") else ""),
        "outOfScope": node["boundary"] == "trusted-out-of-scope",
        "reasonOutOfScope": "trusted, outside the scope of the Parsec threat model"
        if node["boundary"] == "trusted-out-of-scope"
        else "",
        "hasOpenThreats": False,
        "threats": [],
    }
    if shape == "store":
        data.update({"isALog": node["id"] == "logs", "storesCredentials": "AS1" in node["assets"], "isSigned": False})
    if shape == "process":
        data.update({"privilegeLevel": "", "handlesCardPayment": False, "handlesGoodsOrServices": False})
    if shape == "actor":
        data["providesAuthentication"] = node["id"] == "identity_provider"
    # Threat Dragon draws a store as two lines (topLine, bottomLine) and the other shapes with a body outline.
    outline = (
        {"topLine": _body("#333333"), "bottomLine": _body("#333333")}
        if shape == "store"
        else {"body": _body("#333333")}
    )
    return {
        "id": cell_id("node", node["id"]),
        "shape": shape,
        "zIndex": 1,
        "visible": True,
        "position": {"x": position[0], "y": position[1]},
        "size": {"width": NODE_WIDTH, "height": NODE_HEIGHT},
        "attrs": {"text": {"text": node["label"]}, **outline},
        "data": data,
    }


def _flow_cell(
    flow: dict[str, Any], threats: list[Threat], numbers: dict[str, int], catalogue: Catalogue
) -> dict[str, Any]:
    entries = [_threat(t, numbers[t.id], catalogue, flow["id"]) for t in threats]
    return {
        "id": cell_id("flow", flow["id"]),
        "shape": "flow",
        "zIndex": 10,
        "visible": True,
        "connector": "smooth",
        "source": {"cell": cell_id("node", flow["source"])},
        "target": {"cell": cell_id("node", flow["target"])},
        "vertices": [],
        "labels": [flow["label"]],
        "attrs": {
            "line": {
                "stroke": "#cc0000" if flow["attackers"] else "#333333",
                "strokeWidth": 1.5,
                "targetMarker": {"name": "block"},
                "sourceMarker": {"name": ""},
                "strokeDasharray": "",
            }
        },
        "data": {
            "type": "tm.Flow",
            "name": flow["label"],
            "description": f"{flow['id']}: attackers {', '.join(flow['attackers']) or 'none'}",
            "outOfScope": False,
            "reasonOutOfScope": "",
            "protocol": "",
            "isEncrypted": False,
            "isPublicNetwork": False,
            "isBidirectional": False,
            "hasOpenThreats": any(e["status"] == "Open" for e in entries),
            "threats": entries,
        },
    }


def _threat(threat: Threat, number: int, catalogue: Catalogue, flow_id: str) -> dict[str, Any]:
    """One row on one flow (a row of an attacker on two flows is on both, under one number)."""
    answers = [m for m in threat.mitigations if m in catalogue]
    lines = []
    for identifier in answers:
        if identifier.startswith("ASUM-"):
            lines.append(f"{identifier} (assumption): {catalogue.assumption(identifier).text}")
        else:
            entry = catalogue.mitigation(identifier)
            lines.append(f"{identifier}: {entry.justification}")
    mitigated = any(m[:2] in ("M-", "O-") for m in threat.mitigations)
    return {
        "id": cell_id("threat", f"{flow_id}:{threat.id}"),
        "threatId": cell_id("threat", f"{flow_id}:{threat.id}"),
        "ruleId": threat.id,
        "number": number,
        "title": f"{threat.id}: {STRIDE_NAMES[threat.stride]}",
        "type": STRIDE_NAMES[threat.stride],
        "modelType": "STRIDE",
        "status": "Mitigated" if mitigated else "Open",
        "severity": "",
        "score": "",
        "description": threat.description,
        "mitigation": "\n".join(lines),
    }
