"""The published JSON schemas of the export formats, shipped as package data (see ``schemas/SOURCES.md``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

OTM_SCHEMA = "otm-0.2.0.schema.json"
THREAT_DRAGON_SCHEMA = "threat-dragon-v2.schema.json"


def load_schema(name: str) -> dict[str, Any]:
    """The schema file `name` of ``parsec_tm/export/schemas`` as a JSON object."""
    text = (resources.files("parsec_tm.export.schemas") / name).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document
