"""Open Threat Model 0.2.0 (OTM, IriusRisk's open format) from a catalogue and its dataflow graph, and back.

Mapping: trust boundaries → ``trustZones`` (trust rating 100 trusted, 50 trusted but out of scope, 0 non-trusted);
components → ``components`` (type: the node kind, parent: its trust zone, the assets it processes); flows →
``dataflows``, each carrying an instance of every threat of the attackers on it, with the threat's U-/M-/O- entries
as the instance's mitigations (state ``implemented`` for M- and O-, ``accepted-risk`` for U-); threat rows →
``threats`` (categories: the STRIDE name); U-/M-/O- entries → ``mitigations`` (risk reduction: M- 100, O- 50, U-
0: the seed rates no risk, so these say only which kind of answer each is); assets → ``assets``.

What OTM has no field for (the attacker of a row, its STRIDE letter, the seed's Assets and Mitigation cells, notes,
N/A rows, assumptions, variants) travels in ``attributes`` under ``parsec``, so `catalogue_from_otm` rebuilds the
exact catalogue of the exported variant: an export imported back is the catalogue it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import networkx as nx

from dataflow.catalogue import STRIDE_NAMES, Catalogue, catalogue_from_document, catalogue_to_document
from dataflow.graph import boundary_members, flow_records, node_records

OTM_VERSION = "0.2.0"
TRUST_RATING = {"trusted": 100, "trusted-out-of-scope": 50, "non-trusted": 0}
RISK_REDUCTION = {"M": 100, "O": 50, "U": 0}
INSTANCE_STATE = {"M": "implemented", "O": "implemented", "U": "accepted-risk"}
_STRIDE_LETTERS = {name: letter for letter, name in STRIDE_NAMES.items()}
_THREAT_NATIVE = ("id", "description")
_MITIGATION_NATIVE = ("id", "justification")


def to_otm(catalogue: Catalogue, graph: nx.DiGraph) -> dict[str, Any]:
    """The OTM document of `catalogue` (one variant) and its dataflow graph."""
    document = catalogue_to_document(catalogue)
    threats_by_attacker: dict[str, list[str]] = {}
    for threat in catalogue.threats:
        threats_by_attacker.setdefault(threat.attacker, []).append(threat.id)
    members = boundary_members(graph)
    return {
        "otmVersion": OTM_VERSION,
        "project": {
            "name": "Parsec threat model",
            "id": f"parsec-{catalogue.variant_id}",
            "description": catalogue.variant_info().description,
            "tags": ["parsec", catalogue.variant_id],
            "attributes": {
                "parsec": {
                    "variant": catalogue.variant_id,
                    "document": {
                        key: value for key, value in document.items() if key not in ("threats", "mitigations", "assets")
                    },
                }
            },
        },
        "assets": [_asset(entry) for entry in document["assets"]],
        "trustZones": [
            {
                "id": boundary.id,
                "name": boundary.label,
                "type": boundary.id,
                "description": boundary.description,
                "risk": {"trustRating": TRUST_RATING.get(boundary.id, 0)},
                "attributes": {"assumptions": list(boundary.assumptions), "components": members.get(boundary.id, [])},
            }
            for boundary in graph.graph["boundaries"].values()
        ],
        "components": [
            {
                "id": node["id"],
                "name": node["label"],
                "type": node["kind"].replace(" ", "-"),
                "description": node.get("diagram") or node["label"],
                "parent": {"trustZone": node["boundary"]},
                "assets": {"processed": list(node["assets"]), "stored": []},
                "attributes": {"code": node.get("code")},
            }
            for node in node_records(graph)
        ],
        "dataflows": [
            {
                "id": flow["id"],
                "name": flow["label"],
                "source": flow["source"],
                "destination": flow["target"],
                "bidirectional": False,
                "assets": list(flow["assets"]),
                "threats": [
                    _instance(catalogue, threat_id)
                    for attacker in flow["attackers"]
                    for threat_id in threats_by_attacker.get(attacker, [])
                ],
                "attributes": {
                    "attackers": list(flow["attackers"]),
                    "outOfScopeAttackers": list(flow["out_of_scope_attackers"]),
                    "crossesBoundary": flow["crosses_boundary"],
                },
            }
            for flow in flow_records(graph)
        ],
        "threats": [_threat(entry, catalogue) for entry in document["threats"]],
        "mitigations": [_mitigation(entry) for entry in document["mitigations"]],
    }


def catalogue_from_otm(otm: Mapping[str, Any]) -> Catalogue:
    """Import an OTM document written by `to_otm` back into a catalogue (of the variant it was exported for)."""
    parsec = otm["project"]["attributes"]["parsec"]
    document: dict[str, Any] = dict(parsec["document"])
    document["assets"] = [_asset_entry(asset) for asset in otm["assets"]]
    document["mitigations"] = [_mitigation_entry(m) for m in otm["mitigations"]]
    document["threats"] = [_threat_entry(t) for t in otm["threats"]]
    return replace(catalogue_from_document(document), variant_id=parsec["variant"])


def _asset(entry: Mapping[str, Any]) -> dict[str, Any]:
    rated = {name: 100 if entry.get(name) else 0 for name in ("confidentiality", "integrity", "availability")}
    return {
        "id": entry["id"],
        "name": entry["name"],
        "description": entry["description"],
        "risk": {**rated, "comment": "the seed states which properties matter, not how much"},
        "attributes": {key: value for key, value in entry.items() if key not in ("id", "name", "description")},
    }


def _asset_entry(asset: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": asset["id"], "name": asset["name"], "description": asset["description"], **asset["attributes"]}


def _threat(entry: Mapping[str, Any], catalogue: Catalogue) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "name": f"{entry['id']}: {STRIDE_NAMES[entry['stride']]} by {catalogue.attacker(entry['attacker']).name}"
        if entry["attacker"] in catalogue
        else entry["id"],
        "description": entry["description"],
        "categories": [STRIDE_NAMES[entry["stride"]]],
        "risk": {"likelihood": None, "impact": 0, "impactComment": "the seed rates no risk"},
        "tags": [entry["attacker"], *entry["assets"]],
        "attributes": {"parsec": {k: v for k, v in entry.items() if k not in _THREAT_NATIVE}},
    }


def _threat_entry(threat: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": threat["id"], "description": threat["description"]}
    entry.update(threat["attributes"]["parsec"])
    stride = _STRIDE_LETTERS[threat["categories"][0]]
    if entry["stride"] != stride:
        raise ValueError(
            f"threat {threat['id']}: category {threat['categories'][0]!r} but STRIDE letter {entry['stride']!r}"
        )
    return {key: entry[key] for key in ("id", "attacker", "stride", "description", *entry) if key in entry}


def _instance(catalogue: Catalogue, threat_id: str) -> dict[str, Any]:
    threat = catalogue.threat(threat_id)
    answers = [m for m in threat.mitigations if m[:2] in ("U-", "M-", "O-")]
    return {
        "threat": threat_id,
        "state": "exists",
        "mitigations": [{"mitigation": m, "state": INSTANCE_STATE[m[0]]} for m in answers],
    }


def _mitigation(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "name": entry["id"],
        "description": entry["justification"],
        "riskReduction": RISK_REDUCTION[entry["kind"]],
        "attributes": {key: value for key, value in entry.items() if key not in _MITIGATION_NATIVE},
    }


def _mitigation_entry(mitigation: Mapping[str, Any]) -> dict[str, Any]:
    attributes = dict(mitigation["attributes"])
    return {
        "id": mitigation["id"],
        "kind": attributes.pop("kind"),
        "justification": mitigation["description"],
        **attributes,
    }
