"""The command line: `threats` reproduces every seed row, `what-if`, `graph`, `report`, and the check stage."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dataflow.catalogue import Catalogue
from parsec_tm.cli import check, threat_model
from parsec_tm.cli.threat_model import catalogue_check_lines
from tests.dataflow.catalogue_helpers import Document, threat_entry

ALL_ASSETS = [f"AS{n}" for n in range(1, 9)]
REFERENCE = re.compile(r"\b(?:ASUM|[UMO])-\d+\b")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run a subcommand through a parser that `register` populated, as `parsec-tm` does."""
    parser = argparse.ArgumentParser(prog="parsec-tm")
    subparsers = parser.add_subparsers(dest="command", required=True)
    threat_model.register(subparsers)
    check.register(subparsers)
    args = parser.parse_args(argv)
    code = args.handler(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def threats_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, _ = run(["threats", "--format", "json", *argv], capsys)
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["threats"]
    return list(document["threats"])


def seed_rows(seed: Path) -> list[tuple[str, str, list[str], list[str]]]:
    """(attacker, description, mitigation IDs, asset IDs) of every non-N/A STRIDE row, read straight from the seed."""
    rows = []
    attacker = ""
    for line in seed.read_text(encoding="utf-8").splitlines():
        heading = re.match(r'^### Attacker ".+" - (A\d+)$', line)
        if heading:
            attacker = heading.group(1)
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not attacker or len(cells) != 4 or cells[0] not in "STRIDE" or not cells[0] or cells[1].startswith("N/A"):
            continue
        assets = ALL_ASSETS if cells[3].lower().endswith("all") else re.findall(r"AS\d+", cells[3])
        rows.append((attacker, cells[1], REFERENCE.findall(cells[2]), assets))
    return rows


def test_threats_json_reproduces_every_seed_row(seed_markdown: Path, capsys: pytest.CaptureFixture[str]) -> None:
    threats = threats_json([], capsys)
    expected = seed_rows(seed_markdown)
    assert len(expected) == 68
    assert [(t["attacker"], t["description"], t["mitigations"], t["assets"]) for t in threats] == expected


def test_threats_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    first = threats_json([], capsys)[0]
    assert first == {
        "id": "A1-S-1",
        "attacker": "A1",
        "attacker_name": "Client Request",
        "stride": "S",
        "description": "An attacker uses another client's authentication token. He can then have access (reference) to "
        "any of the impersonated client's keys and execute any operation in their name.",
        "mitigations": ["U-2"],
        "assets": ["AS3"],
        "notes": [],
        "configurations": ["with-idp"],
    }


def test_depends_on_the_attack_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    (row,) = threats_json(["--attacker", "A2", "--mitigation", "M-1"], capsys)
    assert (row["id"], row["assets"], row["notes"]) == ("A2-I-2", [], ["Assets: Depends on the attack"])


def test_the_no_idp_variant_has_44_rows(capsys: pytest.CaptureFixture[str]) -> None:
    threats = threats_json(["--variant", "no-idp"], capsys)
    assert len(threats) == 44
    assert {t["attacker"] for t in threats}.isdisjoint({"A1", "A2", "A10"})
    assert all("AS1" not in t["assets"] and "AS2" not in t["assets"] for t in threats)


def test_threat_filters(capsys: pytest.CaptureFixture[str]) -> None:
    assert [t["id"] for t in threats_json(["--asset", "AS7", "--attacker", "A10"], capsys)] == [
        "A10-S-1", "A10-T-1", "A10-E-1",
    ]  # fmt: skip


def test_threats_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["threats", "--attacker", "A3"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("A3-T-1    ASUM-3")
    assert lines[-1] == "2 threat(s) in variant with-idp"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["threats", "--attacker", "A12"], "unknown attacker 'A12'"),
        (["threats", "--variant", "cloud"], "unknown variant 'cloud'; defined: with-idp, no-idp"),
        (["what-if", "M-9"], "unknown mitigation 'M-9'"),
        (["graph", "--catalogue", "/nonexistent/catalogue.json"], "cannot read catalogue"),
    ],
)
def test_usage_errors_exit_2_with_a_message(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert (code, out) == (2, "")
    assert message in err


def test_what_if_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["what-if", "M-6", "--format", "json"], capsys)
    document = json.loads(out)
    assert code == 0
    assert [t["id"] for t in document["threats"]] == ["A7-T-1", "A7-I-1", "A7-D-1"]
    assert document["already_without_mitigation"] == ["A1-S-1", "A3-T-1", "A11-I-1"]


def test_what_if_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["what-if", "O-6"], capsys)
    assert code == 0
    assert out.splitlines()[0] == "Removing O-6 leaves 6 threat(s) without any M- or O- mitigation:"


def test_graph_json_lists_boundaries_and_flows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["graph", "--format", "json"], capsys)
    document = json.loads(out)
    assert code == 0
    assert [b["id"] for b in document["boundaries"]] == ["trusted", "non-trusted", "trusted-out-of-scope"]
    flows = {f["id"]: f for f in document["flows"]}
    assert flows["trust_bundle"]["attackers"] == ["A10"]
    assert flows["trust_bundle"]["crosses_boundary"] is True
    assert {n["id"] for n in document["nodes"]} >= {"listener", "front_end", "key_info_manager"}


def test_graph_text_for_the_no_idp_variant(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["graph", "--variant", "no-idp"], capsys)
    assert code == 0
    assert "identity_provider" not in out
    assert "client_request               client_library -> listener  [ (out of scope: A1)]" in out


def test_report_writes_markdown_html_and_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["report", "--out", str(tmp_path), "--variant", "no-idp", "--format", "json"], capsys)
    document = json.loads(out)
    assert (code, document["variant"]) == (0, "no-idp")
    assert [Path(p).name for p in document["files"]] == ["threat_model.md", "threat_model.html", "dataflow.svg"]
    assert all(Path(p).is_file() for p in document["files"])


def test_check_lines_pass_on_the_built_in_model() -> None:
    passed, lines = catalogue_check_lines()
    assert passed
    assert lines == ["catalogue built-in: with-idp: 68 threats, no-idp: 44 threats; 0 problem(s)"]


def test_check_fails_naming_a_dangling_reference(
    document: Document, write_catalogue: Callable[[Document], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    threat_entry(document, "A9-E-1")["mitigations"] = ["M-5", "U-3", "O-66"]
    bad = write_catalogue(document)
    passed, lines = catalogue_check_lines(bad)
    assert not passed
    assert lines[1:] == ["dangling-reference: A9-E-1: field 'mitigations' names O-66, which is not defined"]
    code, out, _ = run(["check", "--catalogue", str(bad)], capsys)
    assert code == 1
    assert "A9-E-1" in out and "O-66" in out


def test_check_reports_a_catalogue_that_does_not_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    passed, lines = catalogue_check_lines(bad)
    assert not passed
    assert "must be a JSON object" in lines[0]


def test_the_catalogue_option_reads_another_file(
    document: Document,
    write_catalogue: Callable[[Document], Path],
    capsys: pytest.CaptureFixture[str],
    catalogue: Catalogue,
) -> None:
    threat_entry(document, "A1-S-1")["description"] = "A rewritten row."
    threats = threats_json(["--catalogue", str(write_catalogue(document)), "--attacker", "A1"], capsys)
    assert threats[0]["description"] == "A rewritten row."
    assert catalogue.threat("A1-S-1").description != "A rewritten row."


@pytest.mark.parametrize(
    ("variant", "rows"), [(None, 79), ("GNRC", 69), ("DSPC", 68), ("DRCT", 44), ("JWTS", 77), ("jwts", 77)]
)
def test_the_current_model_lists_the_rows_of_each_configuration(
    variant: str | None, rows: int, capsys: pytest.CaptureFixture[str]
) -> None:
    threats = threats_json(["--model", "current", *(["--variant", variant] if variant else [])], capsys)
    assert len(threats) == rows
    if variant:
        assert all(variant.upper() in t["configurations"] for t in threats)


def test_a_row_names_its_configurations_and_loses_its_marker(capsys: pytest.CaptureFixture[str]) -> None:
    rows = {t["id"]: t for t in threats_json(["--model", "current", "--attacker", "A1"], capsys)}
    assert rows["A1-S-1"]["configurations"] == ["GNRC", "JWTS"]
    assert rows["A1-S-1"]["description"].startswith("An attacker uses another client's authentication token.")
    assert rows["A1-S-3"]["configurations"] == ["DSPC"]
    assert rows["A1-T-1"]["configurations"] == ["GNRC", "DSPC", "JWTS"]


def test_an_asset_that_does_not_apply_leaves_the_configurations_rows(capsys: pytest.CaptureFixture[str]) -> None:
    dspc = threats_json(["--model", "current", "--variant", "DSPC"], capsys)
    assert not any({"AS1", "AS2"} & set(t["assets"]) for t in dspc)
    (a11,) = [t for t in dspc if t["id"] == "A11-I-1"]
    assert a11["assets"] == ["AS4", "AS5"]
    assert "AS1, AS2 not applicable in the DSPC" in a11["notes"][0]


def test_the_catalogue_option_reads_a_markdown_revision(
    current_markdown: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from_markdown = threats_json(["--catalogue", str(current_markdown), "--variant", "JWTS"], capsys)
    assert from_markdown == threats_json(["--model", "current", "--variant", "JWTS"], capsys)


def test_model_and_catalogue_exclude_each_other(current_markdown: Path) -> None:
    parser = argparse.ArgumentParser(prog="parsec-tm")
    threat_model.register(parser.add_subparsers(dest="command", required=True))
    with pytest.raises(SystemExit):
        parser.parse_args(["threats", "--model", "current", "--catalogue", str(current_markdown)])


def test_an_unknown_configuration_names_the_defined_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["threats", "--model", "current", "--variant", "with-idp"], capsys)
    assert code == 2
    assert "unknown variant 'with-idp'; defined: all, GNRC, DSPC, DRCT, JWTS" in err


def test_the_report_is_written_for_a_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", "--model", "current", "--variant", "JWTS", "--out", str(tmp_path), "--picture", "none"]
    code, out, _ = run([*argv, "--format", "json"], capsys)
    assert (code, json.loads(out)["variant"]) == (0, "JWTS")
    markdown = (tmp_path / "threat_model.md").read_text(encoding="utf-8")
    assert "| E | A13-E-1 |" in markdown
    assert "| S | A1-S-2 |" in markdown and "| S | A1-S-3 |" not in markdown


def test_check_lines_pass_on_the_current_model() -> None:
    passed, lines = catalogue_check_lines(model="current")
    assert passed, lines
    assert lines == [
        "catalogue built-in current: all: 79 threats, GNRC: 69 threats, DSPC: 68 threats, DRCT: 44 threats, "
        "JWTS: 77 threats; 0 problem(s)"
    ]


def test_the_text_list_of_every_configuration_names_a_rows_configurations(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["threats", "--model", "current", "--attacker", "A1"], capsys)
    lines = {line.split()[0]: line for line in out.splitlines()[:-1]}
    assert code == 0
    assert "[DSPC] An attacker uses another client's Unix account." in lines["A1-S-3"]
    assert "[GNRC, DSPC, JWTS] An attacker modifies the valid request" in lines["A1-T-1"]


def test_one_report_per_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", "--model", "current", "--each-variant", "--out", str(tmp_path), "--picture", "none"]
    code, out, _ = run([*argv, "--format", "json"], capsys)
    reports = json.loads(out)["reports"]
    assert code == 0
    assert [r["variant"] for r in reports] == ["all", "GNRC", "DSPC", "DRCT", "JWTS"]
    assert all(Path(f).parent == tmp_path / r["variant"] for r in reports for f in r["files"])
    assert "| D | A13-D-2 |" in (tmp_path / "JWTS" / "threat_model.md").read_text(encoding="utf-8")
    assert "A13-D-2 |" not in (tmp_path / "DRCT" / "threat_model.md").read_text(encoding="utf-8")
    code, _, err = run([*argv, "--variant", "JWTS"], capsys)
    assert code == 2 and "not both" in err
