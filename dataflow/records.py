"""The catalogue's entries as JSON records: the shapes ``parsec-tm threats --format json`` and ``parsec-tm diff`` print.

Every record names the deployments it applies in (``"configurations"``: with-idp/no-idp for the seed; GNRC, DSPC,
DRCT, JWTS for a revision with configuration markers), so a consumer can filter rows per configuration without
re-deriving the catalogue. Records are plain dicts of strings and lists; `RECORDS` gives one function per kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dataflow.catalogue import Asset, Assumption, Attacker, Catalogue, Mitigation, Threat, Variant

Record = dict[str, Any]


def threat_record(catalogue: Catalogue, threat: Threat) -> Record:
    """One threat: id, attacker, attacker_name, stride, description, mitigations, assets, notes, configurations.

    `notes` holds the threat's notes followed by its qualifier groups written out ("Crashes: M-0, M-5");
    `description` is the row's words without its configuration marker.
    """
    return {
        "id": threat.id,
        "attacker": threat.attacker,
        "attacker_name": catalogue.attacker(threat.attacker).name,
        "stride": threat.stride,
        "description": threat.description,
        "mitigations": list(threat.mitigations),
        "assets": list(threat.assets),
        "notes": [*threat.notes, *(f"{q.label}: {', '.join(q.mitigations)}" for q in threat.qualifiers)],
        "configurations": list(catalogue.configurations_of(threat.id)),
    }


def mitigation_record(catalogue: Catalogue, mitigation: Mitigation) -> Record:
    """One U-, M- or O- entry: id, kind, justification, details, configurations."""
    return {
        "id": mitigation.id,
        "kind": mitigation.kind,
        "justification": mitigation.justification,
        "details": mitigation.details,
        "configurations": list(catalogue.configurations_of(mitigation.id)),
    }


def assumption_record(catalogue: Catalogue, assumption: Assumption) -> Record:
    """One assumption: id, text, configurations."""
    return {
        "id": assumption.id,
        "text": assumption.text,
        "configurations": list(catalogue.configurations_of(assumption.id)),
    }


def asset_record(catalogue: Catalogue, asset: Asset) -> Record:
    """One asset: id, name, description, its three security properties (None: not stated), configurations."""
    return {
        "id": asset.id,
        "name": asset.name,
        "description": asset.description,
        "confidentiality": asset.confidentiality,
        "integrity": asset.integrity,
        "availability": asset.availability,
        "configurations": list(catalogue.configurations_of(asset.id)),
    }


def attacker_record(catalogue: Catalogue, attacker: Attacker) -> Record:
    """One attacker: id, name, description, configurations."""
    return {
        "id": attacker.id,
        "name": attacker.name,
        "description": attacker.description,
        "configurations": list(catalogue.configurations_of(attacker.id)),
    }


def configuration_record(catalogue: Catalogue, variant: Variant) -> Record:
    """One deployment: id, title, description, and how many threat rows it keeps."""
    return {
        "id": variant.id,
        "title": variant.title,
        "description": variant.description,
        "threats": len(catalogue.variant(variant.id).threats),
    }


def records(catalogue: Catalogue) -> Mapping[str, list[Record]]:
    """Every entry of a base catalogue as records, by section (the sections `parsec-tm diff` compares)."""
    return {
        section: [make(catalogue, entry) for entry in entries(catalogue)]
        for section, (entries, make) in RECORDS.items()
    }


RECORDS: Mapping[str, tuple[Callable[[Catalogue], tuple[Any, ...]], Callable[[Catalogue, Any], Record]]] = {
    "threats": (lambda c: c.threats, threat_record),
    "mitigations": (lambda c: c.mitigations, mitigation_record),
    "assumptions": (lambda c: c.assumptions, assumption_record),
    "assets": (lambda c: c.assets, asset_record),
    "attackers": (lambda c: c.attackers, attacker_record),
    "configurations": (lambda c: tuple(v for v in c.variants if v.id in c.configurations), configuration_record),
}
"""Section name → (the catalogue's entries of that section, the record of one entry)."""
