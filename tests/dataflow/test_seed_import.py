"""The importer re-derives the built-in catalogue from the seed's Markdown, and explains what it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataflow.catalogue import Catalogue, Qualifier, catalogue_from_document, catalogue_to_document
from dataflow.seed_import import (
    SeedFormatError,
    import_seed,
    main,
    parse_assets_cell,
    parse_mitigation_cell,
    parse_seed,
)

ALL = ("AS1", "AS2", "AS3")


def test_importing_the_seed_yields_the_built_in_catalogue(seed_markdown: Path, catalogue: Catalogue) -> None:
    assert import_seed(seed_markdown) == catalogue


def test_the_json_document_round_trips(catalogue: Catalogue) -> None:
    document = catalogue_to_document(catalogue)
    assert catalogue_from_document(json.loads(json.dumps(document))) == catalogue


def test_the_command_line_writes_the_data_file(seed_markdown: Path, tmp_path: Path, catalogue: Catalogue) -> None:
    out = tmp_path / "catalogue.json"
    assert main([str(seed_markdown), "--out", str(out)]) == 0
    assert catalogue_from_document(json.loads(out.read_text(encoding="utf-8"))) == catalogue


@pytest.mark.parametrize(
    ("cell", "identifiers", "qualifiers"),
    [
        ("", (), ()),
        ("U-2", ("U-2",), ()),
        ("O-1, ASUM-2", ("O-1", "ASUM-2"), ()),
        ("Crashes: M-0, M-5 Overloads: U-0", ("M-0", "M-5", "U-0"),
         (Qualifier("Crashes", ("M-0", "M-5")), Qualifier("Overloads", ("U-0",)))),
    ],
)  # fmt: skip
def test_mitigation_cells(cell: str, identifiers: tuple[str, ...], qualifiers: tuple[Qualifier, ...]) -> None:
    assert parse_mitigation_cell(cell) == (identifiers, qualifiers)


def test_a_mitigation_cell_with_prose_is_refused() -> None:
    with pytest.raises(SeedFormatError, match=r"row S: Mitigation cell 'M-3 mostly' holds text other than IDs"):
        parse_mitigation_cell("M-3 mostly", "row S")


@pytest.mark.parametrize(
    ("cell", "assets", "notes"),
    [
        ("", (), ()),
        ("AS3,AS4", ("AS3", "AS4"), ()),
        ("AS4, AS3", ("AS4", "AS3"), ()),
        ("AS1, AS2, AS4 and AS5", ("AS1", "AS2", "AS4", "AS5"), ()),
        ("All", ALL, ()),
        ("AS2 and then all", ALL, ("Assets: AS2 and then all",)),
        ("Depends on the attack", (), ("Assets: Depends on the attack",)),
    ],
)
def test_asset_cells(cell: str, assets: tuple[str, ...], notes: tuple[str, ...]) -> None:
    assert parse_assets_cell(cell, ALL) == (assets, notes)


def test_an_unknown_asset_phrase_is_refused() -> None:
    with pytest.raises(SeedFormatError, match="Assets cell 'most of them' is neither"):
        parse_assets_cell("most of them", ALL)


def test_a_seed_without_a_required_section_is_refused(seed_markdown: Path) -> None:
    text = seed_markdown.read_text(encoding="utf-8").replace("## Mitigations", "## Controls")
    with pytest.raises(SeedFormatError, match="no '## Mitigations' section"):
        parse_seed(text)


def test_a_table_row_with_a_missing_cell_is_refused(seed_markdown: Path) -> None:
    text = seed_markdown.read_text(encoding="utf-8").replace(
        "| M-2                              | AS1      |", "| M-2 |"
    )
    with pytest.raises(SeedFormatError, match=r"Attacker A1: row .* has 3 cells, expected 4"):
        parse_seed(text)


def test_the_scope_note_and_the_attacker_notes_must_agree(seed_markdown: Path) -> None:
    text = seed_markdown.read_text(encoding="utf-8").replace("the A1, A2 and A10 attackers", "the A1 and A2 attackers")
    with pytest.raises(SeedFormatError, match=r"names \['A1', 'A2'\] but .* are \['A1', 'A10', 'A2'\]"):
        parse_seed(text)
