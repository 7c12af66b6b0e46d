"""Evidence per threat row: what makes a row proved, tested, fuzzed, operational, unmitigated, failing or without
evidence, on the built-in catalogue, with proof facts from the real proofs and test results as the plugin writes
them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from dataflow.catalogue import BUILTIN_MODELS, Catalogue, load_catalogue
from parsec_tm.evidence.fuzz import FUZZ_PROPERTIES
from parsec_tm.evidence.gather import EvidenceReport, gather_evidence
from parsec_tm.evidence.proofs import Failure, ProofFacts, Violation, proof_facts, run_proofs
from parsec_tm.evidence.reasons import NO_EXECUTABLE_EVIDENCE
from parsec_tm.evidence.results import TestResult


@cache
def _facts(variant: str) -> ProofFacts:
    return run_proofs(variant)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _report(catalogue: Catalogue, tests: list[TestResult], proofs: ProofFacts | None = None) -> EvidenceReport:
    return gather_evidence(catalogue, proofs, tests)


def test_a_row_whose_counterexample_breaks_a_proved_invariant_is_proved(catalogue: Catalogue) -> None:
    report = _report(catalogue, [], _facts("with-idp")).by_id()
    row = report["A1-S-2"]  # M-2: without it, GuessToken breaks tenant isolation
    assert row.status == "proved"
    kinds = {(e.kind, e.ref, e.outcome) for e in row.evidence}
    assert ("proof", "tenant-isolation", "proved") in kinds
    assert ("counterexample", "M-2 removed: GuessToken", "found") in kinds


def test_the_adapter_reads_the_proof_report_of_one_deployment(catalogue: Catalogue) -> None:
    facts = _facts("no-idp")
    assert facts.variant == "no-idp" and set(facts.invariants.values()) == {"proved"}
    assert all(v.confirmed for v in facts.violations)
    assert {v.mitigation for v in facts.violations} >= {"M-6", "O-3", "O-8"}
    report = {
        "invariants": [{"id": "tenant-isolation", "variant": "no-idp", "status": "failed"}],
        "mutations": [
            {
                "mitigation": "M-6",
                "variant": "no-idp",
                "violations": [
                    {
                        "capability": "X",
                        "invariant": "tenant-isolation",
                        "threats": ["A7-T-1"],
                        "confirmed_by_z3": False,
                    }
                ],
            }
        ],
    }
    assert proof_facts(report, "with-idp") == ProofFacts("with-idp", {}, ())
    read = proof_facts(report, "no-idp")
    assert read.invariants == {"tenant-isolation": "failed"}
    assert read.violations == (Violation("M-6", "X", "tenant-isolation", ("A7-T-1",), False),)


def test_a_failed_proof_or_an_unconfirmed_counterexample_makes_the_row_failing(catalogue: Catalogue) -> None:
    failed = ProofFacts(
        "with-idp", {"tenant-isolation": "failed"}, (Violation("M-6", "T", "tenant-isolation", ("A7-T-1",), True),)
    )
    unconfirmed = ProofFacts(
        "with-idp", {"tenant-isolation": "proved"}, (Violation("M-6", "T", "tenant-isolation", ("A7-T-1",), False),)
    )
    assert _report(catalogue, [], failed).by_id()["A7-T-1"].status == "failing"
    report = _report(catalogue, [], unconfirmed)
    assert report.by_id()["A7-T-1"].status == "failing"
    assert [t.id for t in report.failing] == ["A7-T-1"]


def test_tests_count_through_the_row_id_or_its_mitigations(catalogue: Catalogue) -> None:
    tests = [
        TestResult("t.py::direct", ("A1-R-1",), "passed"),
        TestResult("t.py::via_mitigation", ("M-4",), "passed"),
        TestResult("t.py::unrelated", ("M-3",), "passed"),
    ]
    row = _report(catalogue, tests).by_id()["A4-R-1"]  # M-4 only
    assert row.status == "tested"
    assert [(e.ref, e.detail) for e in row.evidence if e.kind == "test"] == [
        ("t.py::via_mitigation", "marked M-4, a mitigation of this row")
    ]
    assert _report(catalogue, tests).by_id()["A1-R-1"].status == "tested"


def test_a_failing_test_outweighs_a_passing_proof(catalogue: Catalogue) -> None:
    tests = [TestResult("t.py::broken", ("A1-S-2",), "failed"), TestResult("t.py::fine", ("M-2",), "passed")]
    row = _report(catalogue, tests, _facts("with-idp")).by_id()["A1-S-2"]
    assert row.status == "failing"
    assert not row.meets_goal


@pytest.mark.parametrize("outcome", ["skipped", "xfailed"])
def test_a_skipped_test_is_not_evidence(catalogue: Catalogue, outcome: str) -> None:
    row = _report(catalogue, [TestResult("t.py::t", ("A4-R-1",), outcome)]).by_id()["A4-R-1"]
    assert row.status == "no-evidence"
    assert [e.outcome for e in row.evidence] == [outcome]


def test_fuzz_properties_take_the_outcome_of_the_campaigns_that_check_them(catalogue: Catalogue) -> None:
    prop = next(p for p in FUZZ_PROPERTIES if "A1-D-2" in p.threats)
    campaign = f"{prop.checked_by[0]}::test_campaign"
    passed = _report(catalogue, [TestResult(campaign, ("O-0",), "passed")]).by_id()["A1-D-2"]
    assert passed.status == "fuzzed"
    assert [(e.ref, e.outcome) for e in passed.evidence if e.kind == "property"] == [(prop.id, "passed")]
    failed = _report(catalogue, [TestResult(campaign, (), "failed")]).by_id()["A1-D-2"]
    assert failed.status == "failing"
    not_run = _report(catalogue, []).by_id()["A1-D-2"]
    assert [e.outcome for e in not_run.evidence if e.kind == "property"] == ["not-run"]


def test_rows_without_executable_evidence_say_what_the_document_says(catalogue: Catalogue) -> None:
    report = _report(catalogue, []).by_id()
    assert report["A11-I-1"].status == "unmitigated"  # U-5 only
    assert report["A8-S-1"].status == "operational"  # O-5 only
    assert report["A3-T-1"].status == "operational"  # an assumption only (ASUM-3)
    assert report["A1-T-1"].status == "no-evidence"  # M-3, nothing run
    unmitigated = next(e for e in report["A11-I-1"].evidence if e.kind == "unmitigated")
    assert unmitigated.ref == "U-5" and "clear sensitive data" in unmitigated.detail


def test_the_summary_counts_statuses_and_names_the_rows_that_miss_the_goal(catalogue: Catalogue) -> None:
    report = gather_evidence(catalogue, _facts("with-idp"), None)
    summary = report.summary()
    assert sum(summary["statuses"].values()) == len(catalogue.threats) == summary["threats"]
    misses = {m["id"] for m in summary["goal_misses"]}
    assert "A1-R-1" in misses  # M-4, nothing run in this report
    assert "A1-S-2" not in misses  # proved
    assert summary["goal_met"] is False
    assert summary["test_results"] is False
    assert any("--threat-results" in note for note in summary["notes"])


def test_declared_reasons_name_a_row_with_that_m_mitigation_in_some_built_in_model() -> None:
    models = [load_catalogue(model=model) for model in BUILTIN_MODELS]
    for threat_id, reason in NO_EXECUTABLE_EVIDENCE.items():
        assert reason.mitigation.startswith("M-") and len(reason.text) > 40, threat_id
        assert any(threat_id in c and reason.mitigation in c.threat(threat_id).mitigations for c in models), threat_id


def test_a_reason_shows_only_where_the_row_names_its_mitigation() -> None:
    seed = gather_evidence(load_catalogue(), None, []).by_id()["A11-I-1"]  # U-5 in the seed
    current = gather_evidence(load_catalogue(model="current").variant("GNRC"), None, []).by_id()["A11-I-1"]  # M-8
    assert seed.reason == "" and seed.status == "unmitigated"
    assert "M-8" in current.reason and current.status == "no-evidence" and not current.meets_goal


def test_fuzz_properties_name_real_rows(catalogue: Catalogue) -> None:
    for prop in FUZZ_PROPERTIES:
        for threat_id in prop.threats:
            catalogue.threat(threat_id)


def test_the_report_shows_the_gathered_evidence(catalogue: Catalogue, tmp_path: Path) -> None:
    from dataflow.graph import build_graph
    from dataflow.report import write_report

    report = gather_evidence(catalogue, _facts("with-idp"), [TestResult("t.py::logs", ("M-4",), "passed")])
    files = write_report(catalogue, build_graph(catalogue), tmp_path, (), evidence=report.plain())
    page = files.html.read_text(encoding="utf-8")
    assert 'class="status status-proved"><a href="#evidence-A1-S-2">proved</a>' in page
    assert "<code>M-2 removed: GuessToken</code>: found" in page
    assert 'class="status status-tested"><a href="#evidence-A1-R-1">tested</a>' in page


def test_an_invariant_broken_by_another_rows_attack_is_neither_proof_nor_failure_of_this_row(
    catalogue: Catalogue,
) -> None:
    """In a deployment where the document leaves one attack open, the invariant it breaks fails there; the rows
    whose mitigations the model shows working keep their counterexamples, and only the open attack's row carries
    the failure: with the document's unmitigation it is its own word (found), with a mitigation named it fails."""
    failure = Failure("tenant-isolation", ("EavesdropResponse",), ("A2-I-1",), True)
    facts = ProofFacts(
        "with-idp",
        {"tenant-isolation": "failed"},
        (Violation("M-6", "T", "tenant-isolation", ("A7-T-1",), True),),
        failures={"tenant-isolation": failure},
    )
    rows = _report(catalogue, [], facts).by_id()
    other = {(e.kind, e.outcome) for e in rows["A7-T-1"].evidence}
    assert ("proof", "not-proved") in other and ("counterexample", "found") in other
    assert rows["A7-T-1"].status != "failing"
    open_row = [e for e in rows["A2-I-1"].evidence if e.ref == "tenant-isolation fails: EavesdropResponse"]
    assert [e.outcome for e in open_row] == ["failed"]  # A2-I-1 names an M- mitigation: a mitigated row broken
    assert rows["A2-I-1"].status == "failing"

    unmitigated_row = next(
        t for t in catalogue.threats if t.mitigations and all(m.startswith("U-") for m in t.mitigations)
    )
    documented = ProofFacts(
        "with-idp",
        {"tenant-isolation": "failed"},
        (),
        failures={"tenant-isolation": Failure("tenant-isolation", ("X",), (unmitigated_row.id,), True)},
    )
    row = _report(catalogue, [], documented).by_id()[unmitigated_row.id]
    assert [e.outcome for e in row.evidence if e.kind == "counterexample"] == ["found"]
    assert row.status == "unmitigated"


def test_the_adapter_reads_the_counterexample_of_a_failed_invariant() -> None:
    report = {
        "invariants": [
            {
                "id": "tenant-isolation",
                "variant": "DSPC",
                "status": "failed",
                "counterexample": {"capabilities": ["UseUnixAccount"], "threats": ["A1-S-3"], "confirmed_by_z3": True},
            },
            {"id": "mapping-integrity", "variant": "DSPC", "status": "proved", "counterexample": None},
        ],
        "mutations": [],
    }
    facts = proof_facts(report, "DSPC")
    assert facts.failures == {"tenant-isolation": Failure("tenant-isolation", ("UseUnixAccount",), ("A1-S-3",), True)}
