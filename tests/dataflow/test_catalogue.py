"""The catalogue reproduces the seed's rows: counts, exact IDs of spot-checked rows, expansions, notes, qualifiers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from dataflow.catalogue import (
    DIFFERENCES,
    STRIDE,
    Catalogue,
    NotApplicable,
    Qualifier,
    Threat,
    load_catalogue,
)
from dataflow.errors import CatalogueError
from tests.dataflow.catalogue_helpers import Document, threat_entry

ALL_ASSETS = ("AS1", "AS2", "AS3", "AS4", "AS5", "AS6", "AS7", "AS8")
SEED_ROWS_PER_ATTACKER = {
    "A1": 10, "A2": 8, "A3": 2, "A4": 8, "A5": 6, "A6": 5, "A7": 8, "A8": 7, "A9": 7, "A10": 6, "A11": 1,
}  # fmt: skip


def test_the_seed_has_68_threats_and_7_not_applicable_rows(catalogue: Catalogue) -> None:
    assert len(catalogue.threats) == 68
    assert len(catalogue.not_applicable) == 7
    assert len(catalogue.threats) + len(catalogue.not_applicable) == 75


def test_threats_per_attacker_match_the_seed_tables(catalogue: Catalogue) -> None:
    assert Counter(t.attacker for t in catalogue.threats) == SEED_ROWS_PER_ATTACKER


def test_the_no_idp_variant_has_44_threats(no_idp: Catalogue) -> None:
    assert len(no_idp.threats) == 44
    assert {t.attacker for t in no_idp.threats}.isdisjoint({"A1", "A2", "A10"})


def test_entities_are_those_of_the_seed(catalogue: Catalogue) -> None:
    assert [a.id for a in catalogue.assumptions] == [f"ASUM-{n}" for n in range(1, 7)]
    assert [a.id for a in catalogue.assets] == list(ALL_ASSETS)
    assert [a.id for a in catalogue.attackers] == [f"A{n}" for n in range(1, 12)]
    assert [m.id for m in catalogue.mitigations] == [
        "U-0", "U-2", "U-3", "U-4", "U-5",
        *(f"M-{n}" for n in range(8)),
        *(f"O-{n}" for n in range(11)),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("threat_id", "mitigations", "assets"),
    [
        ("A1-S-1", ("U-2",), ("AS3",)),
        ("A1-S-2", ("M-2",), ("AS1",)),
        ("A1-R-1", ("M-4",), ()),
        ("A1-I-2", ("M-3",), ("AS4", "AS3")),
        ("A1-E-2", ("U-3", "M-5"), ("AS3", "AS6")),
        ("A2-R-1", ("O-2", "M-4", "O-9"), ()),
        ("A3-T-1", ("ASUM-3",), ("AS6",)),
        ("A3-D-1", ("O-0",), ("AS6",)),
        ("A4-E-1", ("O-8", "U-3", "U-4"), ("AS3", "AS6")),
        ("A5-S-1", ("O-1", "ASUM-2"), ("AS4", "AS6")),
        ("A5-I-1", ("U-3", "O-8"), ("AS3", "AS4", "AS5")),
        ("A6-I-1", ("O-3",), ("AS3", "AS4")),
        ("A7-D-3", ("O-3", "M-5", "U-3"), ("AS6",)),
        ("A8-S-2", ("M-7",), ("AS6",)),
        ("A8-D-1", ("O-5", "O-4"), ("AS6",)),
        ("A9-I-2", ("O-6",), ("AS5",)),
        ("A10-D-2", ("M-5", "U-3"), ("AS2", "AS6")),
        ("A11-I-1", ("U-5",), ("AS1", "AS2", "AS4", "AS5")),
    ],
)
def test_spot_checked_rows_have_exactly_the_seed_ids(
    catalogue: Catalogue, threat_id: str, mitigations: tuple[str, ...], assets: tuple[str, ...]
) -> None:
    threat = catalogue.threat(threat_id)
    assert threat.mitigations == mitigations
    assert threat.assets == assets


def test_threat_ids_number_each_letter_in_seed_order(catalogue: Catalogue) -> None:
    a1 = [t.id for t in catalogue.threats_of("A1")]
    assert a1 == [
        "A1-S-1", "A1-S-2", "A1-T-1", "A1-R-1", "A1-I-1", "A1-I-2", "A1-D-1", "A1-D-2", "A1-E-1", "A1-E-2",
    ]  # fmt: skip
    assert catalogue.threat("A8-T-2").description.startswith("An attacker can delete the log file")
    assert catalogue.threat("A3-T-1").description.startswith("A `SIGHUP` is modified")


def test_seed_descriptions_are_kept_verbatim(catalogue: Catalogue) -> None:
    assert catalogue.threat("A8-S-2").description == (
        "An attacker uses the same logging façade mechanism to write on the logs from a malicious Parsec dependency."
    )


@pytest.mark.parametrize("threat_id", ["A1-E-1", "A5-E-1", "A7-E-1", "A9-E-1", "A10-E-1"])
def test_all_expands_to_the_eight_assets(catalogue: Catalogue, threat_id: str) -> None:
    threat = catalogue.threat(threat_id)
    assert threat.assets == ALL_ASSETS
    assert threat.assets_cell == "All"


@pytest.mark.parametrize("threat_id", ["A10-S-1", "A10-T-1"])
def test_as2_and_then_all_expands_to_the_eight_assets_with_a_note(catalogue: Catalogue, threat_id: str) -> None:
    threat = catalogue.threat(threat_id)
    assert threat.assets == ALL_ASSETS
    assert threat.notes == ("Assets: AS2 and then all",)


def test_depends_on_the_attack_is_an_empty_asset_list_kept_as_a_note(catalogue: Catalogue) -> None:
    threat = catalogue.threat("A2-I-2")
    assert threat.assets == ()
    assert threat.notes == ("Assets: Depends on the attack",)
    assert threat.mitigations == ("M-1",)


def test_qualified_cells_keep_their_groups_and_list_every_id(catalogue: Catalogue) -> None:
    threat = catalogue.threat("A1-D-2")
    assert threat.mitigations == ("M-0", "M-5", "U-0")
    assert threat.qualifiers == (Qualifier("Crashes", ("M-0", "M-5")), Qualifier("Overloads", ("U-0",)))
    assert threat.qualifier_map == {"Crashes": ("M-0", "M-5"), "Overloads": ("U-0",)}
    assert threat.mitigations_cell == "Crashes: M-0, M-5 Overloads: U-0"


def test_not_applicable_rows_are_analysis_entries_not_threats(catalogue: Catalogue) -> None:
    rows = {(n.attacker, n.stride) for n in catalogue.not_applicable}
    assert rows == {("A3", "S"), ("A3", "R"), ("A3", "I"), ("A3", "E"), ("A6", "E"), ("A8", "E"), ("A10", "I")}
    trust_bundle = next(n for n in catalogue.not_applicable if n.attacker == "A10")
    assert trust_bundle.reason == "the trust bundle contains public information"
    assert all(t.description != "N/A" for t in catalogue.threats)


def test_analysis_rows_lay_out_a_table_as_the_seed_does(catalogue: Catalogue) -> None:
    rows = catalogue.analysis_rows("A3")
    assert [row.stride for row in rows] == list(STRIDE)
    assert [isinstance(row, NotApplicable) for row in rows] == [True, False, True, True, False, True]
    assert all(isinstance(row, Threat) for row in catalogue.analysis_rows("A1"))


def test_mitigations_carry_the_seed_justification_and_details(catalogue: Catalogue) -> None:
    m3 = catalogue.mitigation("M-3")
    assert (m3.kind, m3.number) == ("M", 3)
    assert m3.justification.startswith("Listener implementations use an IPC mechanism")
    assert m3.details.startswith("Unix Domain Socket Listener")
    assert catalogue.mitigation("U-3").details.startswith("A vulnerability in one of Parsec dependency")
    m4 = catalogue.mitigation("M-4")
    assert '"a hardware command is received"' in m4.justification
    o10 = catalogue.mitigation("O-10")
    assert o10.variant == "no-idp"
    assert o10.justification == (
        "A set of mutually trusted clients has restricted read-write access to the service IPC endpoint."
    )


def test_assets_carry_their_security_properties(catalogue: Catalogue) -> None:
    as3 = catalogue.asset("AS3")
    assert (as3.confidentiality, as3.integrity, as3.availability) == ("by nature.",) * 3
    as2 = catalogue.asset("AS2")
    assert as2.confidentiality is None
    assert as2.availability == "Parsec needs it in order to execute a request."
    assert catalogue.asset("AS6").name == "Availability of the service"


def test_no_idp_variant_is_the_seeds_italic_text(catalogue: Catalogue) -> None:
    variant = catalogue.variant_info("no-idp")
    assert variant.contingent_on == ("O-10",)
    assert variant.excluded_ids("A") == ("A1", "A2", "A10")
    assert variant.excluded_ids("AS") == ("AS1", "AS2")
    assert variant.excluded_ids("ASUM") == ("ASUM-5", "ASUM-6")
    assert "dependent on the O-10 mitigation" in variant.scope_note


def test_no_idp_catalogue_drops_the_excluded_entries(no_idp: Catalogue) -> None:
    assert no_idp.variant_id == "no-idp"
    assert [a.id for a in no_idp.attackers] == ["A3", "A4", "A5", "A6", "A7", "A8", "A9", "A11"]
    assert [a.id for a in no_idp.assets] == ["AS3", "AS4", "AS5", "AS6", "AS7", "AS8"]
    assert "ASUM-6" not in no_idp
    assert no_idp.threat("A9-E-1").assets == ("AS3", "AS4", "AS5", "AS6", "AS7", "AS8")
    a11 = no_idp.threat("A11-I-1")
    assert a11.assets == ("AS4", "AS5")
    assert a11.notes == ("AS1, AS2 not applicable in the Deployment without an Identity Provider",)
    assert ("A10", "I") not in {(n.attacker, n.stride) for n in no_idp.not_applicable}


def test_variants_derive_from_the_base_catalogue_only(catalogue: Catalogue, no_idp: Catalogue) -> None:
    assert catalogue.variant("with-idp") is catalogue
    assert no_idp.variant("no-idp") is no_idp
    with pytest.raises(CatalogueError, match=r"derive 'with-idp' from the base catalogue"):
        no_idp.variant("with-idp")
    with pytest.raises(CatalogueError, match=r"unknown variant 'cloud'; defined: with-idp, no-idp"):
        catalogue.variant("cloud")


def test_lookups_name_what_is_defined(catalogue: Catalogue) -> None:
    assert "A1-S-1" in catalogue
    assert "M-4" in catalogue
    assert "U-1" not in catalogue
    with pytest.raises(CatalogueError, match=r"unknown mitigation 'U-1'.*U-0, U-2"):
        catalogue.mitigation("U-1")
    with pytest.raises(CatalogueError, match=r"unknown threat 'A1-S-3'"):
        catalogue.threat("A1-S-3")
    with pytest.raises(CatalogueError, match="unknown asset 'A1'"):
        catalogue.asset("A1")


def test_the_row_count_is_explained_in_the_reading_notes() -> None:
    assert any("75 STRIDE rows" in note and "68" in note and "44" in note for note in DIFFERENCES)


def test_loading_is_cached_and_catalogues_are_immutable(catalogue: Catalogue) -> None:
    assert load_catalogue() is catalogue
    with pytest.raises(AttributeError):
        catalogue.threats = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: threat_entry(d, "A2-I-2").update(mitigation=["M-1"]), r"threats\[14\] \(id 'A2-I-2'\): field "
         r"'mitigation' is not in the schema; did you mean 'mitigations'\?"),
        (lambda d: threat_entry(d, "A1-S-1").update(stride="X"), r"\(id 'A1-S-1'\): field 'stride': 'X' does not look"),
        (lambda d: threat_entry(d, "A1-S-1").update(assets="AS3"), r"\(id 'A1-S-1'\): field 'assets': expected a list"),
        (lambda d: threat_entry(d, "A1-S-1").update(mitigations=["M3"]), r"field 'mitigations' item 0: 'M3' does not"
         r" look like an ID of the form U-2, M-3, O-10 or ASUM-3"),
        (lambda d: threat_entry(d, "A1-S-1").pop("description"), r"\(id 'A1-S-1'\): missing required field "
         r"'description'"),
        (lambda d: d["mitigations"][0].update(kind="X"), r"mitigations\[0\] \(id 'U-0'\): field 'kind': 'X' is not "
         r"one of U, M, O"),
        (lambda d: d.pop("variants"), r"section 'variants' must be a list of objects, got nothing"),
    ],
)  # fmt: skip
def test_a_bad_entry_is_named_with_its_field(
    document: Document,
    write_catalogue: Callable[[Document], Path],
    edit: Callable[[Document], object],
    message: str,
) -> None:
    edit(document)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(write_catalogue(document))


def test_a_file_that_is_not_json_is_reported_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"schema_version": 1,\n  "assets": [}', encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid JSON: line 2 column"):
        load_catalogue(path)


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read catalogue"):
        load_catalogue(tmp_path / "absent.json")


def test_the_data_file_is_the_documented_json(catalogue: Catalogue) -> None:
    from dataflow.catalogue import builtin_data_path, catalogue_to_document

    on_disk = json.loads(builtin_data_path().read_text(encoding="utf-8"))
    assert on_disk == catalogue_to_document(catalogue)
