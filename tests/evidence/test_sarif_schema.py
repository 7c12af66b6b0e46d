"""`parsec-tm evidence --format sarif` against the published SARIF 2.1.0 schema (OASIS, errata 01, shipped as package
data) and against what GitHub code scanning asks of an upload beyond the schema: a rule for every ruleId, a message
text, a relative artifact URI and a region with a start line for every result, help text for every rule."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

from dataflow.catalogue import load_catalogue
from parsec_tm.cli import main
from parsec_tm.evidence.document import DOCUMENTS
from parsec_tm.export.schema import load_schema
from parsec_tm.pytest_plugin import RESULTS_FORMAT

SARIF_SCHEMA = "sarif-schema-2.1.0.json"
SARIF_SCHEMA_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_SCHEMA_SHA256 = "ddddcccbf95c7c50c037b5b07eff4140556278ca574ff374db46786b5fce7949"
"""The digest of the copy recorded in schemas/SOURCES.md: the file stays as OASIS publishes it."""


def _validator() -> jsonschema.protocols.Validator:
    schema = load_schema(SARIF_SCHEMA)
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def _results(tmp_path: Path, tests: list[tuple[str, list[str], str]]) -> Path:
    path = tmp_path / "results.json"
    entries = [{"nodeid": n, "threats": t, "outcome": o} for n, t, o in tests]
    path.write_text(json.dumps({"format": RESULTS_FORMAT, "version": 1, "tests": entries}), encoding="utf-8")
    return path


def _sarif(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict[str, Any]]:
    code = main(["evidence", "--format", "sarif", *args])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, document


def code_scanning_problems(sarif: dict[str, Any]) -> list[str]:
    """What GitHub code scanning needs of an upload that the schema leaves optional (its SARIF support page, and the
    GH rules of the SARIF SDK's validator): version 2.1.0; rules with unique IDs and non-blank short description,
    full description and help text; every result with a ruleId that is a rule of the driver (at ruleIndex), a
    message text and at least one location with a relative artifact URI and a region whose startLine is >= 1."""
    problems = []
    if sarif.get("version") != "2.1.0":
        problems.append(f"version {sarif.get('version')!r}")
    for r, run in enumerate(sarif.get("runs") or []):
        rules = run["tool"]["driver"].get("rules", [])
        ids = [rule["id"] for rule in rules]
        if len(set(ids)) != len(ids):
            problems.append(f"run {r}: duplicate rule IDs")
        for rule in rules:
            for part in ("shortDescription", "fullDescription", "help"):
                if not rule.get(part, {}).get("text", "").strip():
                    problems.append(f"rule {rule['id']}: no {part}.text")
        for i, result in enumerate(run.get("results", [])):
            where = f"run {r} result {i} ({result.get('ruleId')})"
            rule_id = result.get("ruleId")
            if not rule_id or rule_id not in ids:
                problems.append(f"{where}: ruleId is not a rule of tool.driver.rules")
            elif "ruleIndex" in result and ids[result["ruleIndex"]] != rule_id:
                problems.append(f"{where}: ruleIndex points at {ids[result['ruleIndex']]}")
            if not result.get("message", {}).get("text", "").strip():
                problems.append(f"{where}: no message.text")
            if not result.get("locations"):
                problems.append(f"{where}: no location")
            for location in result.get("locations", []):
                physical = location.get("physicalLocation", {})
                uri = physical.get("artifactLocation", {}).get("uri")
                if not uri:
                    problems.append(f"{where}: no physicalLocation.artifactLocation.uri")
                elif urlsplit(uri).scheme:
                    problems.append(f"{where}: absolute URI {uri} (code scanning wants it relative to the checkout)")
                start = physical.get("region", {}).get("startLine")
                if not isinstance(start, int) or start < 1:
                    problems.append(f"{where}: region.startLine {start!r}")
    return problems


def _located_line(run: dict[str, Any], result: dict[str, Any]) -> str:
    """The text of the line a result points at, resolving its uriBaseId through run.originalUriBaseIds."""
    physical = result["locations"][0]["physicalLocation"]
    artifact = physical["artifactLocation"]
    base = run.get("originalUriBaseIds", {}).get(artifact.get("uriBaseId"), {}).get("uri", "")
    path = Path(unquote(urlsplit(base + artifact["uri"]).path)) if base else Path(unquote(artifact["uri"]))
    line: str = path.read_text(encoding="utf-8").splitlines()[physical["region"]["startLine"] - 1]
    return line


def test_the_schema_is_the_published_sarif_2_1_0_schema() -> None:
    schema = load_schema(SARIF_SCHEMA)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["id"] == SARIF_SCHEMA_ID
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft4Validator
    jsonschema.Draft4Validator.check_schema(schema)
    raw = (Path(__file__).resolve().parents[2] / "parsec_tm" / "export" / "schemas" / SARIF_SCHEMA).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SARIF_SCHEMA_SHA256


@pytest.mark.parametrize(
    ("args", "failing_test"),
    [
        (["--model", "seed", "--no-proofs"], False),
        (["--model", "seed", "--no-proofs"], True),
        (["--model", "current", "--variant", "JWTS"], False),
        (["--model", "current", "--variant", "JWTS", "--no-proofs"], True),
    ],
    ids=["seed", "seed-failing-test", "current-JWTS-proofs", "current-JWTS-failing-test"],
)
def test_evidence_sarif_is_valid_and_fit_for_code_scanning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared: Path, args: list[str], failing_test: bool
) -> None:
    results = ["--results", str(_results(tmp_path, [("t.py::b", ["A1-S-2"], "failed")]))] if failing_test else []
    code, sarif = _sarif(capsys, [*args, *results])
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(sarif)]
    assert errors == []
    assert code_scanning_problems(sarif) == []
    run = sarif["runs"][0]
    by_rule = {result["ruleId"]: result for result in run["results"]}
    if failing_test:
        assert code == 1
        assert by_rule["A1-S-2"]["level"] == "error"
        assert "test t.py::b failed" in by_rule["A1-S-2"]["message"]["text"]
    model = args[args.index("--model") + 1]
    catalogue = load_catalogue(model=model)
    variant = args[args.index("--variant") + 1] if "--variant" in args else catalogue.variants[0].id
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [t.id for t in catalogue.variant(variant).threats]
    assert run["originalUriBaseIds"]["THREATMODELDIR"]["uri"] == (shared / DOCUMENTS[model]).parent.as_uri() + "/"
    for result in run["results"]:
        stride = result["ruleId"].split("-")[1]
        assert _located_line(run, result).startswith(f"| {stride} |")
    fingerprints = [tuple(result["partialFingerprints"].items()) for result in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)


def test_a_document_under_the_working_directory_is_a_plain_relative_uri(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = tmp_path / "threat model" / "parsec.md"
    document.parent.mkdir()
    document.write_text((shared / DOCUMENTS["seed"]).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    _, sarif = _sarif(capsys, ["--no-proofs", "--document", str(document)])
    assert _validator().is_valid(sarif) and code_scanning_problems(sarif) == []
    run = sarif["runs"][0]
    assert "originalUriBaseIds" not in run
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]} == {
        "threat%20model/parsec.md"
    }
    for result in run["results"]:
        assert _located_line(run, result).startswith(f"| {result['ruleId'].split('-')[1]} |")


def test_a_row_the_document_lacks_still_gets_a_start_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    document = tmp_path / "notes.md"
    document.write_text("# Notes without the threat tables\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    _, sarif = _sarif(capsys, ["--no-proofs", "--document", str(document)])
    results = sarif["runs"][0]["results"]
    assert results and {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results} == {1}
    assert _validator().is_valid(sarif) and code_scanning_problems(sarif) == []


def test_the_checks_reject_what_code_scanning_would_reject(
    capsys: pytest.CaptureFixture[str], shared: Path, tmp_path: Path
) -> None:
    """Both checks can fail: a broken copy of a real report is caught by the schema, or by the code-scanning rules
    where the schema allows it."""
    _, sarif = _sarif(capsys, ["--no-proofs", "--document", str(shared / DOCUMENTS["seed"])])
    result = sarif["runs"][0]["results"][0]

    def broken(change: Any) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(sarif))
        change(copy, copy["runs"][0]["results"][0])
        return copy

    def zero_line(_: Any, r: dict[str, Any]) -> None:
        r["locations"][0]["physicalLocation"]["region"]["startLine"] = 0

    def no_message(_: Any, r: dict[str, Any]) -> None:
        del r["message"]

    def old_version(s: dict[str, Any], _: Any) -> None:
        s["version"] = "2.0.0"

    for change in (zero_line, no_message, old_version):
        assert not _validator().is_valid(broken(change)), change.__name__

    def unknown_rule(_: Any, r: dict[str, Any]) -> None:
        r["ruleId"] = "A99-S-1"
        del r["ruleIndex"]

    def absolute_uri(_: Any, r: dict[str, Any]) -> None:
        r["locations"][0]["physicalLocation"]["artifactLocation"] = {"uri": "file:///elsewhere/threats.md"}

    def no_region(_: Any, r: dict[str, Any]) -> None:
        del r["locations"][0]["physicalLocation"]["region"]

    def no_help(s: dict[str, Any], _: Any) -> None:
        del s["runs"][0]["tool"]["driver"]["rules"][0]["help"]

    for change in (unknown_rule, absolute_uri, no_region, no_help):
        copy = broken(change)
        assert _validator().is_valid(copy), change.__name__
        assert code_scanning_problems(copy), change.__name__
    assert result["ruleId"] in {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
