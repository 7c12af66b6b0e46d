"""The importer reads the current revision (2024-03-25) exactly, configuration by configuration, and any small
variation of the format; where it cannot understand, it names the line and what it expected.

The exactness test re-reads the revision's tables with its own small parser (written for this test, sharing no code
with `dataflow.seed_import`) and compares every row, its mitigations, assets and configurations.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dataflow.catalogue import DIFFERENCES, REVISION_DIFFERENCES, Catalogue, differences_of, load_catalogue
from dataflow.checks import run_checks
from dataflow.graph import build_graph
from dataflow.records import mitigation_record, threat_record
from dataflow.seed_import import SeedFormatError, import_seed, parse_seed

CONFIGURATIONS = ("GNRC", "DSPC", "DRCT", "JWTS")
ALL_ASSETS = [f"AS{n}" for n in range(1, 9)]
REFERENCE = re.compile(r"\b(?:ASUM|[UMO])-\d+\b")
Row = tuple[str, str, list[str], list[str], list[str]]


def marker_codes(text: str) -> set[str]:
    """The configurations an italic marker such as ``(GNRC, JWTS)`` or ``(not DRCT)`` leaves in scope."""
    codes = set(re.findall(r"[A-Z]{4}", text))
    return set(CONFIGURATIONS) - codes if re.search(r"\bnot\b|Not applicable", text) else codes


def independent_rows(document: Path) -> tuple[list[Row], dict[str, set[str]], dict[str, list[str]]]:
    """(attacker, description, mitigations, assets, configurations) per STRIDE row, asset exclusions per
    configuration, and the configurations of every U-/M-/O- entry, read line by line."""
    rows: list[Row] = []
    excluded_assets: dict[str, set[str]] = {code: set() for code in CONFIGURATIONS}
    mitigations: dict[str, list[str]] = {}
    attacker = asset = kind = ""
    attacker_scope = set(CONFIGURATIONS)
    for line in document.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            kind = {"## Unmitigations": "U", "## Mitigations": "M", "## Operational mitigations": "O"}.get(line, "")
            attacker = asset = ""
        heading = re.match(r'^### Attacker ".+" - (A\d+)$', line)
        if heading:
            attacker, attacker_scope = heading.group(1), set(CONFIGURATIONS)
            continue
        asset_heading = re.match(r"^### .+- (AS\d+)$", line)
        if asset_heading:
            asset = asset_heading.group(1)
            continue
        scope = re.match(r"^\*(Not|Only) applicable for deployments? \(([^)]*)\)", line)
        if scope and attacker:
            attacker_scope = marker_codes(scope.group(0))
        elif scope and asset:
            for code in set(CONFIGURATIONS) - marker_codes(scope.group(0)):
                excluded_assets[code].add(asset)
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if kind and len(cells) == 3 and cells[0].isdigit():
            marked = re.match(r"^\*(\([^)]*\))\*", cells[1])
            applies = marker_codes(marked.group(1)) if marked else set(CONFIGURATIONS)
            mitigations[f"{kind}-{cells[0]}"] = [c for c in CONFIGURATIONS if c in applies]
        if not attacker or len(cells) != 4 or cells[0] not in list("STRIDE") or cells[1].startswith("N/A"):
            continue
        marked = re.match(r"^\*(\([^)]*\))\* (.*)$", cells[1])
        description = marked.group(2) if marked else cells[1]
        applies = attacker_scope & (marker_codes(marked.group(1)) if marked else set(CONFIGURATIONS))
        assets = ALL_ASSETS if cells[3].lower().endswith("all") else re.findall(r"AS\d+", cells[3])
        configurations = [c for c in CONFIGURATIONS if c in applies]
        rows.append((attacker, description, REFERENCE.findall(cells[2]), assets, configurations))
    return rows, excluded_assets, mitigations


def test_the_current_revision_imports_to_the_built_in_model(current_markdown: Path, current: Catalogue) -> None:
    assert import_seed(current_markdown) == current


def test_every_row_and_configuration_matches_an_independent_reading(current_markdown: Path, current: Catalogue) -> None:
    rows, _, _ = independent_rows(current_markdown)
    assert len(rows) == 79
    records = [threat_record(current, threat) for threat in current.threats]
    assert [
        (r["attacker"], r["description"], r["mitigations"], r["assets"], r["configurations"]) for r in records
    ] == rows


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_each_configuration_keeps_its_rows_without_its_inapplicable_assets(
    current_markdown: Path, current: Catalogue, configuration: str
) -> None:
    rows, excluded_assets, _ = independent_rows(current_markdown)
    expected = [
        (attacker, description, [a for a in assets if a not in excluded_assets[configuration]])
        for attacker, description, _, assets, configurations in rows
        if configuration in configurations
    ]
    variant = current.variant(configuration)
    assert [(t.attacker, t.description, list(t.assets)) for t in variant.threats] == expected
    assert {a.id for a in variant.assets}.isdisjoint(excluded_assets[configuration])


def test_every_mitigation_names_its_configurations(current_markdown: Path, current: Catalogue) -> None:
    _, _, mitigations = independent_rows(current_markdown)
    assert {m.id: mitigation_record(current, m)["configurations"] for m in current.mitigations} == mitigations


def test_rows_per_configuration(current: Catalogue) -> None:
    counts = {variant.id: len(current.variant(variant.id).threats) for variant in current.variants}
    assert counts == {"all": 79, "GNRC": 69, "DSPC": 68, "DRCT": 44, "JWTS": 77}


def test_the_revision_and_each_configuration_pass_the_checks(current: Catalogue) -> None:
    assert run_checks(current, build_graph(current)) == []
    for configuration in CONFIGURATIONS:
        assert run_checks(current.variant(configuration)) == []


def test_a_mitigation_of_another_configuration_leaves_the_row_with_a_note(current: Catalogue) -> None:
    row = current.variant("GNRC").threat("A1-S-1")
    assert row.mitigations == ("U-2",)
    assert row.notes[-1].startswith("O-15 not applicable in the GNRC")
    assert current.variant("JWTS").threat("A1-S-1").mitigations == ("U-2", "O-15")


def test_a_mitigation_cell_in_words_is_kept_as_a_note(current: Catalogue) -> None:
    row = current.threat("A12-D-2")
    assert row.mitigations == ()
    assert row.notes[0].startswith("Mitigation: SPIFFE implementation specific.")


# -- tolerance: small variations of the format import to the same catalogue -----------------------------------------


def without_trailing_pipes(text: str) -> str:
    return "\n".join(line.rstrip().removesuffix("|") if line.startswith("|") else line for line in text.splitlines())


def without_outer_pipes(text: str) -> str:
    """Rows whose first and last cells are not empty lose both outer pipes (GitHub-flavoured Markdown allows it)."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if re.match(r"^\|\s*[^|\s].*\S\s*\|$", stripped) and not re.search(r"\|\s*\|$", stripped):
            line = stripped.removeprefix("|").removesuffix("|")
        lines.append(line)
    return "\n".join(lines)


def curly_quotes_and_dashes(text: str) -> str:
    curly = lambda m: f"### Attacker \u201c{m.group(1)}\u201d \u2013 "  # noqa: E731
    text = re.sub(r'^### Attacker "(.+)" - ', curly, text, flags=re.M)
    return re.sub(r"^(### .+?)\s*- (AS\d+)$", lambda m: f"{m.group(1)} \u2014 {m.group(2)}", text, flags=re.M)


def loose_spacing_and_punctuation(text: str) -> str:
    text = re.sub(r"^## (Assumptions|Assets|Attackers)$", r"##  \1:", text, flags=re.M)
    text = text.replace("*(GNRC, JWTS)*", "*( GNRC ,JWTS )*").replace("| S |", "|S|")
    return text.replace("*Not applicable for deployment (DRCT).*", "*Not applicable  for deployment\n(DRCT).*")


def underscore_italics(text: str) -> str:
    """Every italic span (markers, and the seed's italic paragraphs) written with underscores."""
    return re.sub(r"(?<![*\w])\*([^*\s][^*]*?)\*(?![*\w])", r"_\1_", text)


def markers_at_the_end(text: str) -> str:
    """Row and item markers written after the words instead of before them."""
    text = re.sub(r"^\| ([STRIDE]) \| \*(\([^)]*\))\* ([^|]*?)\s*\|", r"| \1 | \3 *\2* |", text, flags=re.M)
    text = re.sub(r"^(\| \d+\s*\| )\*(\([^)]*\))\* ([^|]*?)\s*\|", r"\1\3 *\2* |", text, flags=re.M)
    return re.sub(r"^(\d\.) \*(\([^)]*\))\* (.*)$", r"\1 \3 *\2*", text, flags=re.M)


@pytest.mark.parametrize(
    "variation",
    [without_trailing_pipes, without_outer_pipes, curly_quotes_and_dashes, loose_spacing_and_punctuation,
     underscore_italics],
)  # fmt: skip
@pytest.mark.parametrize("document", ["seed", "current"])
def test_small_variations_of_the_format_import_alike(
    seed_markdown: Path, current_markdown: Path, variation: object, document: str
) -> None:
    path = seed_markdown if document == "seed" else current_markdown
    text = path.read_text(encoding="utf-8")
    assert callable(variation)
    varied = variation(text)
    assert varied != text, "the variation must change the document"
    assert parse_seed(varied) == import_seed(path)


# -- strictness: what the importer cannot understand, it names with the line ------------------------------------------


def line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if fragment in line)


def test_markers_after_the_words_read_as_markers_before_them(current_markdown: Path, current: Catalogue) -> None:
    text = current_markdown.read_text(encoding="utf-8")
    varied = markers_at_the_end(text)
    assert "| S | An attacker uses another client's Unix account." in varied
    assert "5. The authentication tokens are stored with confidentiality by the clients. *(GNRC, JWTS)*" in varied
    assert parse_seed(varied) == current


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("*(DSPC)* An attacker uses another client's Unix", "*(DSCP)* An attacker uses another client's Unix",
         r"Attacker A1, row S .*: configuration 'DSCP' is not one the document lists \(GNRC, DSPC, DRCT, JWTS\)"),
        ("*Not applicable for deployments (DSPC, DRCT, JWTS).*", "*Only in some deployments.*",
         r"Assets: AS2: expected a configuration marker such as \*\(GNRC, DSPC\)\*"),
        ('### Attacker "Logging" - A8', "### Attacker Logging A8",
         r"Attackers: heading 'Attacker Logging A8' is not of the form"),
        ("| O-5        | AS6           |", "| O-5        |",
         r"Attacker A8: row .* has 3 cells, expected 4"),
        ("| M-9        | AS6                     |", "| M-9 and some luck | AS6 |",
         r"Attacker A13, row D .*: Mitigation cell 'M-9 and some luck' holds text other than IDs"),
    ],
)  # fmt: skip
def test_what_the_importer_cannot_read_is_named_with_its_line(
    current_markdown: Path, old: str, new: str, message: str
) -> None:
    text = current_markdown.read_text(encoding="utf-8")
    assert old in text
    broken = text.replace(old, new, 1)
    with pytest.raises(SeedFormatError, match=rf"^revision\.md: line {line_of(broken, new)}: {message}"):
        parse_seed(broken, "revision.md")


def test_a_missing_table_header_is_named(current_markdown: Path) -> None:
    text = current_markdown.read_text(encoding="utf-8").replace("| ID | Justification", "| No | Justification", 1)
    with pytest.raises(SeedFormatError, match=r"line \d+: Unmitigations: expected the table header \| ID \|"):
        parse_seed(text)


# -- the format, not two files: another component's threat model in the same format ------------------------------------

COMPONENT = """# Parsec Client Threat Model

This document presents the threat model of a Parsec client library.

- (SOCK) Clients talk to the service over a Unix socket
- (TCP) Clients talk to the service over TCP,
   behind a proxy

## Assumptions

1. The client's host is *trusted*.
2. *(TCP)* The proxy is trusted.

## Assets

### Client Keys Handle – AS1

**Integrity**: handles must not be forged.

## Attackers

### Attacker \u201cService Endpoint\u201d - A1

Impersonates the service.

*Only applicable for deployment (SOCK).*

| | Description | Mitigation | Assets
|---|---|---|---
| S | An attacker creates a fake socket. | O-0 | AS1
| T | *(not SOCK)* Unreachable row. | M-0 | All

## Unmitigations

| ID | Justification | Consequences |
|----|---------------|--------------|

## Mitigations

| ID | Justification | Details |
|----|---------------|---------|
| 0 | *(TCP)* TLS with mutual authentication. | Done |

## Operational mitigations

| ID | Justification | Details |
|----|---------------|---------|
| 0 | The socket folder is owned by the service user. | Manual |
"""


def test_another_component_in_the_same_format_imports(tmp_path: Path) -> None:
    path = tmp_path / "client.md"
    path.write_text(COMPONENT, encoding="utf-8")
    catalogue = load_catalogue(path)
    assert [v.id for v in catalogue.variants] == ["all", "SOCK", "TCP"]
    assert catalogue.variant_info("TCP").description == "Clients talk to the service over TCP, behind a proxy"
    assert [(t.id, t.description, catalogue.configurations_of(t.id)) for t in catalogue.threats] == [
        ("A1-S-1", "An attacker creates a fake socket.", ("SOCK",)),
        ("A1-T-1", "Unreachable row.", ()),
    ]
    assert catalogue.configurations_of("ASUM-2") == ("TCP",)
    assert [a.text for a in catalogue.assumptions] == ["The client's host is *trusted*.", "The proxy is trusted."]
    assert catalogue.configurations_of("M-0") == ("TCP",)
    assert [t.id for t in catalogue.variant("sock").threats] == ["A1-S-1"]
    assert catalogue.variant("TCP").threats == ()


def test_each_built_in_model_has_its_notes(catalogue: Catalogue, current: Catalogue) -> None:
    assert differences_of(catalogue) == DIFFERENCES
    assert differences_of(current) == REVISION_DIFFERENCES
    assert differences_of(current.variant("JWTS")) == REVISION_DIFFERENCES
    for row in ("A12-D-2", "A10-S-1", "A1-S-1"):
        assert any(row in note for note in REVISION_DIFFERENCES), f"{row} is explained"


def test_a_document_without_deployments_has_one_generic_variant() -> None:
    text = COMPONENT.replace("- (SOCK) Clients talk to the service over a Unix socket\n", "")
    text = text.replace("- (TCP) Clients talk to the service over TCP,\n   behind a proxy\n", "")
    text = re.sub(r"\*\((?:not )?[A-Z]+\)\* ?|\*Only applicable for deployment \(SOCK\)\.\*", "", text)
    text = text.replace("*trusted*", "trusted")  # without configurations, italic text is the seed's no-IdP text
    catalogue = parse_seed(text, "client.md")
    assert [v.id for v in catalogue.variants] == ["generic"]
    assert [catalogue.configurations_of(t.id) for t in catalogue.threats] == [("generic",), ("generic",)]
    assert run_checks(catalogue) == []


def test_a_marker_in_a_document_that_lists_no_configurations_is_named() -> None:
    text = COMPONENT.replace("- (TCP) Clients talk to the service over TCP,\n   behind a proxy\n", "")
    message = r"client.md: line 10: Assumptions: item 2: configuration 'TCP' is not one the document lists \(SOCK\)"
    with pytest.raises(SeedFormatError, match=message):
        parse_seed(text, "client.md")
