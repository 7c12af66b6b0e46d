"""Where each threat row sits in the threat-model Markdown document (the line of its STRIDE table row), for SARIF.

The document is the seed's format: one ``### Attacker "…" - An`` heading per attacker, then a table whose rows start
with the STRIDE letter. A threat ``An-L-k`` is the k-th row of letter L under An's heading that is not "N/A"; the
row is confirmed by its description's words, so a revision that reorders rows still points at the right line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dataflow.catalogue import Catalogue

DOCUMENTS = {
    "seed": Path("seed") / "parsec_threat_model.md",
    "current": Path("seed") / "revisions" / "parsec_threat_model.2024-03-25.md",
}
"""The Markdown document of each built-in model, in the shared reference material."""
_HEADING = re.compile(r"^#{2,4}\s.*-\s*(A\d+)\s*$")
_ROW = re.compile(r"^\|\s*([STRIDE])\s*\|(.*)$")


def default_document(model: str = "seed") -> Path | None:
    """The document of a built-in model in the shared reference material (``$PARSEC_TM_SHARED`` or
    ``<repo>/../shared``), if it is there."""
    shared = os.environ.get("PARSEC_TM_SHARED")
    root = Path(shared) if shared else Path(__file__).resolve().parents[3] / "shared"
    path = root / DOCUMENTS.get(model, DOCUMENTS["seed"])
    return path if path.is_file() else None


def _words(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def row_lines(text: str, catalogue: Catalogue) -> dict[str, int]:
    """The 1-based line of every threat row of `catalogue` found in the document `text`."""
    sections: dict[str, list[tuple[int, str, str]]] = {}
    attacker = ""
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(line)
        if heading:
            attacker = heading.group(1)
            continue
        row = _ROW.match(line)
        if row and attacker:
            sections.setdefault(attacker, []).append((number, row.group(1), _words(row.group(2))))
    lines: dict[str, int] = {}
    for threat in catalogue.threats:
        rows = [r for r in sections.get(threat.attacker, []) if r[1] == threat.stride]
        wanted = _words(threat.description)[:60]
        matching = [number for number, _, words in rows if wanted and wanted in words]
        if matching:
            lines[threat.id] = matching[0]
            continue
        analysed = [number for number, _, words in rows if not words.startswith("n a")]
        index = int(threat.id.rsplit("-", 1)[1]) - 1
        if 0 <= index < len(analysed):
            lines[threat.id] = analysed[index]
    return lines
