"""The schema of the catalogue data file (``dataflow/data/catalogue.json``), written as code, and its validator.

Implements the shape of the seed's sections as JSON records: assumptions (ASUM-n), assets (ASn), attackers (An),
threats (``A1-S-1``), N/A rows, U-/M-/O- entries and deployment variants. Every error names the entry (by list
position and ID) and the field, and for an unknown field suggests the closest known one, for example::

    threats[12] (id 'A2-I-2'): field 'mitigation' is not in the schema; did you mean 'mitigations'?

Only the shape and the ID formats are checked here; whether a referenced ID is defined is `dataflow.checks`' job.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dataflow.errors import CatalogueError

FieldType = Literal["str", "str-list", "record-list"]

STRIDE_LETTER = r"[STRIDE]"
ASSUMPTION_ID = r"ASUM-\d+"
ASSET_ID = r"AS\d+"
ATTACKER_ID = r"A\d+"
THREAT_ID = r"A\d+-[STRIDE]-\d+"
MITIGATION_ID = r"[UMO]-\d+"
REFERENCE_ID = r"(?:ASUM|[UMO])-\d+"
VARIANT_ID = r"[A-Za-z][A-Za-z0-9-]*"
EXCLUDABLE_ID = rf"(?:{ASSUMPTION_ID}|{ASSET_ID}|{ATTACKER_ID}|{THREAT_ID}|{MITIGATION_ID})"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record: its JSON type, whether it must be present, and the pattern or choices its text obeys."""

    name: str
    type: FieldType = "str"
    required: bool = True
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    record: RecordSpec | None = None
    allow_empty: bool = False


@dataclass(frozen=True)
class RecordSpec:
    """A JSON object: its name in messages and its fields."""

    name: str
    fields: tuple[FieldSpec, ...]

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


QUALIFIER = RecordSpec(
    "qualifier",
    (FieldSpec("label"), FieldSpec("mitigations", "str-list", pattern=REFERENCE_ID)),
)
EXCLUSION = RecordSpec(
    "exclusion",
    (FieldSpec("subject", pattern=EXCLUDABLE_ID), FieldSpec("reason")),
)
SECTIONS: tuple[RecordSpec, ...] = (
    RecordSpec("assumptions", (FieldSpec("id", pattern=ASSUMPTION_ID), FieldSpec("text"))),
    RecordSpec(
        "assets",
        (
            FieldSpec("id", pattern=ASSET_ID),
            FieldSpec("name"),
            FieldSpec("description", allow_empty=True),
            FieldSpec("confidentiality", required=False),
            FieldSpec("integrity", required=False),
            FieldSpec("availability", required=False),
        ),
    ),
    RecordSpec(
        "attackers",
        (FieldSpec("id", pattern=ATTACKER_ID), FieldSpec("name"), FieldSpec("description")),
    ),
    RecordSpec(
        "threats",
        (
            FieldSpec("id", pattern=THREAT_ID),
            FieldSpec("attacker", pattern=ATTACKER_ID),
            FieldSpec("stride", pattern=STRIDE_LETTER),
            FieldSpec("description"),
            FieldSpec("mitigations", "str-list", pattern=REFERENCE_ID, allow_empty=True),
            FieldSpec("assets", "str-list", pattern=ASSET_ID, allow_empty=True),
            FieldSpec("assets_cell", required=False, allow_empty=True),
            FieldSpec("notes", "str-list", required=False, allow_empty=True),
            FieldSpec("qualifiers", "record-list", required=False, record=QUALIFIER, allow_empty=True),
        ),
    ),
    RecordSpec(
        "not_applicable",
        (FieldSpec("attacker", pattern=ATTACKER_ID), FieldSpec("stride", pattern=STRIDE_LETTER), FieldSpec("text")),
    ),
    RecordSpec(
        "mitigations",
        (
            FieldSpec("id", pattern=MITIGATION_ID),
            FieldSpec("kind", choices=("U", "M", "O")),
            FieldSpec("justification"),
            FieldSpec("details", allow_empty=True),
            FieldSpec("variant", required=False, pattern=VARIANT_ID),
        ),
    ),
    RecordSpec(
        "variants",
        (
            FieldSpec("id", pattern=VARIANT_ID),
            FieldSpec("title"),
            FieldSpec("description"),
            FieldSpec("scope_note", required=False, allow_empty=True),
            FieldSpec("contingent_on", "str-list", required=False, pattern=MITIGATION_ID, allow_empty=True),
            FieldSpec("exclusions", "record-list", required=False, record=EXCLUSION, allow_empty=True),
        ),
    ),
)
TOP_LEVEL_FIELDS = ("schema_version", *(section.name for section in SECTIONS))
SCHEMA_VERSION = 1


def validate_catalogue_document(document: object) -> None:
    """Raise `CatalogueError` listing every schema violation of a parsed catalogue document."""
    errors = list(_document_errors(document))
    if errors:
        shown = errors[:20]
        more = f"\n  … and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise CatalogueError("catalogue does not match the schema:\n  " + "\n  ".join(shown) + more)


def _document_errors(document: object) -> list[str]:
    if not isinstance(document, Mapping):
        return [f"the document must be a JSON object with the keys {', '.join(TOP_LEVEL_FIELDS)}"]
    errors = _unknown_keys("the document", document, TOP_LEVEL_FIELDS)
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        errors.append(f"'schema_version' must be {SCHEMA_VERSION}, got {version!r}")
    for section in SECTIONS:
        entries = document.get(section.name)
        if not isinstance(entries, list):
            errors.append(f"section '{section.name}' must be a list of objects, got {_describe(entries)}")
            continue
        for position, entry in enumerate(entries):
            errors += _record_errors(f"{section.name}[{position}]", entry, section)
    return errors


def _record_errors(where: str, entry: object, spec: RecordSpec) -> list[str]:
    if not isinstance(entry, Mapping):
        return [f"{where}: must be an object with the fields {', '.join(spec.field_names())}, got {_describe(entry)}"]
    identity = entry.get("id")
    label = f"{where} (id {identity!r})" if isinstance(identity, str) else where
    errors = _unknown_keys(label, entry, spec.field_names())
    for field_spec in spec.fields:
        if field_spec.name not in entry:
            if field_spec.required:
                errors.append(f"{label}: missing required field '{field_spec.name}'")
            continue
        errors += _field_errors(label, field_spec, entry[field_spec.name])
    return errors


def _field_errors(label: str, spec: FieldSpec, value: object) -> list[str]:
    where = f"{label}: field '{spec.name}'"
    if spec.type == "str":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {_describe(value)}"]
        return _text_errors(where, spec, value)
    if not isinstance(value, list):
        return [f"{where}: expected a list, got {_describe(value)}"]
    if not value and not spec.allow_empty:
        return [f"{where}: must not be empty"]
    errors: list[str] = []
    for position, item in enumerate(value):
        item_where = f"{where} item {position}"
        if spec.type == "record-list" and spec.record is not None:
            errors += _record_errors(item_where, item, spec.record)
        elif not isinstance(item, str):
            errors.append(f"{item_where}: expected a string, got {_describe(item)}")
        else:
            errors += _text_errors(item_where, spec, item)
    return errors


def _text_errors(where: str, spec: FieldSpec, value: str) -> list[str]:
    if not value.strip() and not spec.allow_empty and spec.type == "str":
        return [f"{where}: must not be empty"]
    if spec.choices and value not in spec.choices:
        return [f"{where}: {value!r} is not one of {', '.join(spec.choices)}"]
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        return [f"{where}: {value!r} does not look like an ID of the form {_pattern_example(spec.pattern)}"]
    return []


def _unknown_keys(label: str, entry: Mapping[str, Any], known: Sequence[str]) -> list[str]:
    errors = []
    for key in entry:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known fields: {', '.join(known)}"
        errors.append(f"{label}: field '{key}' is not in the schema{hint}")
    return errors


_EXAMPLES = {
    STRIDE_LETTER: "one of S, T, R, I, D, E",
    ASSUMPTION_ID: "ASUM-3",
    ASSET_ID: "AS3",
    ATTACKER_ID: "A1",
    THREAT_ID: "A1-S-1",
    MITIGATION_ID: "U-2, M-3 or O-10",
    REFERENCE_ID: "U-2, M-3, O-10 or ASUM-3",
    VARIANT_ID: "no-idp or GNRC",
    EXCLUDABLE_ID: "A1, AS1, ASUM-5, A1-S-3 or O-10",
}


def _pattern_example(pattern: str) -> str:
    return _EXAMPLES.get(pattern, pattern)


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"[:80]
