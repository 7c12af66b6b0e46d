"""Every seed mitigation M-0…M-7, O-0…O-10 gets a verdict in each deployment; those guarding tenant isolation yield
counterexamples that the concrete model and the Z3 twin both confirm, mapped to the seed's threat rows."""

from __future__ import annotations

import json

import pytest

from dataflow.catalogue import load_catalogue
from model.nouns import VARIANTS
from properties.mutations import OUTSIDE_MODEL, MutationVerdict, mitigation_ids
from properties.prove import ProofReport

EXPECTED: dict[str, dict[str, str]] = {
    "with-idp": {
        "M-0": "outside-model",
        "M-1": "counterexample",
        "M-2": "counterexample",
        "M-3": "counterexample",
        "M-4": "outside-model",
        "M-5": "outside-model",
        "M-6": "counterexample",
        "M-7": "outside-model",
        "O-0": "no-effect",
        "O-1": "counterexample",
        "O-2": "counterexample",
        "O-3": "counterexample",
        "O-4": "outside-model",
        "O-5": "outside-model",
        "O-6": "counterexample",
        "O-7": "counterexample",
        "O-8": "counterexample",
        "O-9": "counterexample",
        "O-10": "no-effect",
    },
    "no-idp": {
        "M-0": "outside-model",
        "M-1": "no-effect",
        "M-2": "no-effect",
        "M-3": "no-effect",
        "M-4": "outside-model",
        "M-5": "outside-model",
        "M-6": "counterexample",
        "M-7": "outside-model",
        "O-0": "no-effect",
        "O-1": "counterexample",
        "O-2": "no-effect",
        "O-3": "counterexample",
        "O-4": "outside-model",
        "O-5": "outside-model",
        "O-6": "counterexample",
        "O-7": "no-effect",
        "O-8": "counterexample",
        "O-9": "no-effect",
        "O-10": "counterexample",
    },
}
"""The verdicts as found (a regression check on the findings, not a wish list)."""

ISOLATION_GUARDS = {
    "with-idp": ("M-1", "M-2", "M-3", "M-6", "O-2", "O-3", "O-6", "O-7", "O-8", "O-9"),
    "no-idp": ("M-6", "O-3", "O-8", "O-10"),
}
"""The mitigations without which some run breaks tenant isolation, and the seed rows that run realises."""


def _verdict(report: ProofReport, mitigation: str, variant: str) -> MutationVerdict:
    (found,) = [m for m in report.mutations if m.mitigation == mitigation and m.variant == variant]
    return found


def test_every_mitigation_has_one_verdict_per_deployment(report: ProofReport) -> None:
    assert set(mitigation_ids()) == set(EXPECTED["with-idp"])
    pairs = [(m.mitigation, m.variant) for m in report.mutations]
    assert sorted(pairs) == sorted((m, v) for m in mitigation_ids() for v in VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_verdicts(report: ProofReport, variant: str) -> None:
    found = {m.mitigation: m.status for m in report.mutations if m.variant == variant}
    assert found == EXPECTED[variant]
    assert all(m.reason for m in report.mutations)


@pytest.mark.parametrize(
    ("variant", "mitigation"),
    [
        pytest.param(v, m, marks=pytest.mark.threat(m), id=f"{v}-{m}")
        for v, guards in ISOLATION_GUARDS.items()
        for m in guards
    ],
)
def test_isolation_guards_yield_confirmed_counterexamples(report: ProofReport, variant: str, mitigation: str) -> None:
    verdict = _verdict(report, mitigation, variant)
    isolation = [c for c in verdict.counterexamples if c.invariant == "tenant-isolation"]
    assert isolation, f"removing {mitigation} should let a run break tenant isolation"
    catalogue = load_catalogue()
    assert verdict.threats and all(catalogue.threat(t) for t in verdict.threats)
    assert all(c.confirmed for c in verdict.counterexamples)
    assert all(confirmed for f in verdict.findings for confirmed in f.confirmed_by_z3)
    assert verdict.all_confirmed


@pytest.mark.threat("A1-S-1", "O-10")
def test_o10_counterexample_is_an_outsider_claiming_a_name(report: ProofReport) -> None:
    verdict = _verdict(report, "O-10", "no-idp")
    assert verdict.threats == ("A1-S-1",)
    shortest = verdict.shortest
    assert shortest is not None and len(shortest.steps) == 1
    trace = verdict.to_dict()["trace"]
    assert isinstance(trace, dict)
    assert trace["steps"][0]["operation"] == "ClaimIdentity" and trace["capabilities"] == ["ClaimIdentity"]


@pytest.mark.threat("A3-D-1", "O-0")
def test_signals_alone_break_nothing_and_that_is_proved(report: ProofReport) -> None:
    for variant in VARIANTS:
        verdict = _verdict(report, "O-0", variant)
        assert verdict.findings and not verdict.counterexamples
        assert all(not f.unproved for f in verdict.findings)


def test_outside_model_mitigations_exist_in_the_catalogue() -> None:
    catalogue = load_catalogue()
    assert all(catalogue.mitigation(m) for m in OUTSIDE_MODEL)


def test_report_is_the_documented_json(report: ProofReport) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    assert {"invariants", "mutations"} <= set(data)
    assert all({"id", "variant", "status", "seconds"} <= set(i) for i in data["invariants"])
    assert all({"mitigation", "status", "threats", "trace", "reason"} <= set(m) for m in data["mutations"])
    assert {m["status"] for m in data["mutations"]} == {"counterexample", "no-effect", "outside-model"}
