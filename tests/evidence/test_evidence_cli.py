"""`parsec-tm evidence` in its four formats, from a results file, with the exit code a CI job acts on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataflow.catalogue import load_catalogue
from parsec_tm.cli import main
from parsec_tm.evidence.document import DOCUMENTS, row_lines
from parsec_tm.pytest_plugin import RESULTS_FORMAT


def _results(tmp_path: Path, tests: list[tuple[str, list[str], str]]) -> Path:
    path = tmp_path / "results.json"
    entries = [{"nodeid": n, "threats": t, "outcome": o} for n, t, o in tests]
    path.write_text(json.dumps({"format": RESULTS_FORMAT, "version": 1, "tests": entries}), encoding="utf-8")
    return path


def test_json_has_the_documented_shape_and_a_failing_test_fails_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = _results(tmp_path, [("t.py::a", ["A1-R-1"], "passed"), ("t.py::b", ["M-2"], "failed")])
    code = main(["evidence", "--results", str(results), "--no-proofs", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    rows = {row["id"]: row for row in document["threats"]}
    assert set(rows) == {t.id for t in load_catalogue().threats}
    assert set(rows["A1-R-1"]) >= {"id", "mitigations", "status", "evidence"}
    assert rows["A1-R-1"]["status"] == "tested"
    assert rows["A1-R-1"]["evidence"][0] == {
        "kind": "test",
        "ref": "t.py::a",
        "outcome": "passed",
        "detail": "marked A1-R-1",
    }
    assert rows["A1-S-2"]["status"] == "failing"
    assert document["summary"]["statuses"]["failing"] == 1


def test_text_and_markdown_list_every_row_and_the_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = _results(tmp_path, [("t.py::b", ["M-2"], "failed")])
    assert main(["evidence", "--results", str(results), "--no-proofs"]) == 1
    text = capsys.readouterr().out
    assert "FAILING A1-S-2: test t.py::b: failed" in text
    assert text.count("\n") > len(load_catalogue().threats)
    assert main(["evidence", "--results", str(results), "--no-proofs", "--format", "markdown"]) == 1
    markdown = capsys.readouterr().out
    assert "| A1-S-2 | test | `t.py::b` | **failed** |" in markdown
    assert "| A11-I-1 | U-5 | unmitigated |" in markdown


def test_sarif_has_one_result_per_failing_or_unevidenced_row_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared: Path
) -> None:
    document = shared / "seed" / "parsec_threat_model.md"
    results = _results(tmp_path, [("t.py::b", ["A1-S-2"], "failed")])
    code = main(
        ["evidence", "--results", str(results), "--no-proofs", "--format", "sarif", "--document", str(document)]
    )
    sarif = json.loads(capsys.readouterr().out)
    assert code == 1
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    by_rule = {result["ruleId"]: result for result in run["results"]}
    assert by_rule["A1-S-2"]["level"] == "error"
    assert by_rule["A1-T-1"]["level"] == "warning"  # M-3, no test given, proofs not run
    assert "A11-I-1" not in by_rule  # unmitigated, as the document says
    lines = document.read_text(encoding="utf-8").splitlines()
    for result in run["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        description = load_catalogue().threat(result["ruleId"]).description
        assert lines[line - 1].startswith(f"| {result['ruleId'].split('-')[1]} |")
        assert description[:40] in " ".join(lines[line - 1].split())


@pytest.mark.parametrize("model", list(DOCUMENTS))
def test_every_row_of_a_built_in_model_is_found_at_its_line_in_its_document(shared: Path, model: str) -> None:
    catalogue = load_catalogue(model=model)
    text = (shared / DOCUMENTS[model]).read_text(encoding="utf-8")
    lines = row_lines(text, catalogue)
    assert set(lines) == {t.id for t in catalogue.threats}
    assert len(set(lines.values())) == len(lines)
    document = text.splitlines()
    for threat in catalogue.threats:
        row = " ".join(document[lines[threat.id] - 1].split())
        assert row.startswith(f"| {threat.stride} |") and " ".join(threat.description.split())[:40] in row


def test_a_file_that_is_not_a_results_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "other.json"
    bogus.write_text("{}", encoding="utf-8")
    assert main(["evidence", "--results", str(bogus), "--no-proofs"]) == 2
    assert "--threat-results" in capsys.readouterr().err


def test_the_current_revision_has_evidence_per_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "--model", "current", "--variant", "DRCT", "--no-proofs", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    expected = load_catalogue(model="current").variant("DRCT").threats
    assert [row["id"] for row in document["threats"]] == [t.id for t in expected]
    assert document["summary"]["variant"] == "DRCT"


def test_a_missing_document_is_a_usage_error_named_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.md"
    assert main(["evidence", "--format", "sarif", "--document", str(missing), "--no-proofs"]) == 2
    assert capsys.readouterr().err.strip() == f"parsec-tm evidence: --document {missing}: no such file"
