"""Helpers to edit catalogue JSON documents in tests (bad catalogues are built as data, never by hand)."""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]


def threat_entry(document: Document, threat_id: str) -> dict[str, Any]:
    """The mutable JSON entry of one threat in a catalogue document."""
    return next(entry for entry in document["threats"] if entry["id"] == threat_id)


def mitigation_entry(document: Document, mitigation_id: str) -> dict[str, Any]:
    """The mutable JSON entry of one U-/M-/O- row in a catalogue document."""
    return next(entry for entry in document["mitigations"] if entry["id"] == mitigation_id)
