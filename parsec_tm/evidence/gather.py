"""Gather the evidence of every threat row of one catalogue variant, and give each row one status.

Statuses, strongest first: ``failing`` (some evidence failed: a test, a proof, an unconfirmed counterexample, a fuzz
campaign), ``proved`` (a Z3 invariant covers the row and the counterexample without its mitigation realises it),
``tested`` (a passing test is marked with the row or one of its mitigations), ``fuzzed`` (a conformance property
that checks the row passed), and, for rows without executable evidence: ``no-evidence`` when the row names an M-
mitigation (the document claims a control the project does not show), ``unmitigated`` when it names a U- entry
(the document accepts the risk, in its own words), ``operational`` when it rests only on O- mitigations or
assumptions (deployment duties outside the service), else ``no-evidence``.

The goal of the project: no row without evidence, and every row with an M- mitigation backed by passing executable
evidence. `EvidenceReport.goal_misses` names the rows that miss it, with the reason declared in `reasons`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dataflow.catalogue import Catalogue, Threat
from parsec_tm.evidence.fuzz import FUZZ_PROPERTIES, FuzzProperty
from parsec_tm.evidence.proofs import PROVED, Failure, ProofFacts
from parsec_tm.evidence.reasons import MITIGATED_BY_THE_REFERENCE_SERVICE, NO_EXECUTABLE_EVIDENCE, Reason
from parsec_tm.evidence.results import FAILED, PASSED, TestResult

STATUSES = ("failing", "proved", "tested", "fuzzed", "operational", "unmitigated", "no-evidence")
EXECUTABLE_STATUSES = frozenset({"proved", "tested", "fuzzed"})
KINDS = ("proof", "counterexample", "test", "property", "operational", "unmitigated")
NOT_PROVED = "not-proved"
"""A proof of an invariant that does not hold in the deployment for another row's attack: neither proof nor failure."""
FAILING_OUTCOMES = frozenset({*FAILED, "unconfirmed", "unknown"})
"""Outcomes that make a row failing: a failed or erroring test, a proof that failed or timed out, a counterexample
Z3 did not confirm, a failed campaign."""


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence for a row: its kind, what it is (`ref`), how it came out, and a line saying why."""

    kind: str
    ref: str
    outcome: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "ref": self.ref, "outcome": self.outcome, "detail": self.detail}


@dataclass(frozen=True)
class ThreatEvidence:
    """A threat row with its evidence and status; `reason` says why it cannot have executable evidence, if so."""

    id: str
    mitigations: tuple[str, ...]
    status: str
    evidence: tuple[Evidence, ...]
    reason: str = ""

    @property
    def needs_executable(self) -> bool:
        """Whether the row names an M- mitigation, which the project must back with executable evidence."""
        return any(m.startswith("M-") for m in self.mitigations)

    @property
    def meets_goal(self) -> bool:
        if self.status in ("failing", "no-evidence"):
            return False
        return self.status in EXECUTABLE_STATUSES or not self.needs_executable

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mitigations": list(self.mitigations),
            "status": self.status,
            "evidence": [e.to_dict() for e in self.evidence],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class EvidenceReport:
    """The evidence of every row of one variant, in catalogue order, and what it was gathered from."""

    variant: str
    threats: tuple[ThreatEvidence, ...]
    results_given: bool
    notes: tuple[str, ...] = field(default=())

    def by_id(self) -> dict[str, ThreatEvidence]:
        return {t.id: t for t in self.threats}

    @property
    def failing(self) -> tuple[ThreatEvidence, ...]:
        return tuple(t for t in self.threats if t.status == "failing")

    @property
    def goal_misses(self) -> tuple[ThreatEvidence, ...]:
        """Rows without evidence, failing, or naming an M- mitigation without passing executable evidence."""
        return tuple(t for t in self.threats if not t.meets_goal)

    def summary(self) -> dict[str, Any]:
        counts = Counter(t.status for t in self.threats)
        with_m = [t for t in self.threats if t.needs_executable]
        return {
            "variant": self.variant,
            "threats": len(self.threats),
            "statuses": {status: counts.get(status, 0) for status in STATUSES},
            "with_m_mitigation": len(with_m),
            "with_m_mitigation_backed": sum(1 for t in with_m if t.status in EXECUTABLE_STATUSES),
            "goal_met": not self.goal_misses,
            "goal_misses": [{"id": t.id, "status": t.status, "reason": t.reason} for t in self.goal_misses],
            "test_results": self.results_given,
            "notes": list(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"threats": [t.to_dict() for t in self.threats], "summary": self.summary()}

    def plain(self) -> dict[str, dict[str, Any]]:
        """The evidence as plain data per threat ID, the form the dataflow report takes."""
        return {t.id: t.to_dict() for t in self.threats}


def gather_evidence(
    catalogue: Catalogue,
    proofs: ProofFacts | None,
    results: Iterable[TestResult] | None,
    properties: tuple[FuzzProperty, ...] = FUZZ_PROPERTIES,
    reasons: Mapping[str, Reason] = NO_EXECUTABLE_EVIDENCE,
) -> EvidenceReport:
    """The evidence of every threat row of `catalogue` (one variant) from the proof facts and the test results."""
    tests = tuple(results) if results is not None else ()
    notes = []
    if results is None:
        notes.append("no test results given: run pytest with --threat-results FILE and pass --results FILE")
    if proofs is None:
        notes.append("proofs not run")
    elif proofs.note:
        notes.append(proofs.note)
    rows = []
    for threat in catalogue.threats:
        evidence = (
            *_proof_evidence(threat, proofs),
            *_test_evidence(threat, tests),
            *_property_evidence(threat, properties, tests),
            *_document_evidence(threat, catalogue),
        )
        reason = reasons.get(threat.id)
        applies = reason is not None and reason.mitigation in threat.mitigations
        status = status_of(threat, evidence)
        rows.append(
            ThreatEvidence(threat.id, threat.mitigations, status, evidence, reason.text if applies and reason else "")
        )
    return EvidenceReport(catalogue.variant_id, tuple(rows), results is not None, tuple(notes))


def status_of(threat: Threat, evidence: Iterable[Evidence]) -> str:
    """One status for a row, from its evidence (see the module docstring for the order)."""
    items = tuple(evidence)
    outcomes = {(e.kind, e.outcome) for e in items}
    if any(outcome in FAILING_OUTCOMES for _, outcome in outcomes):
        return "failing"
    if ("proof", PROVED) in outcomes:
        return "proved"
    if ("test", "passed") in outcomes:
        return "tested"
    if ("property", "passed") in outcomes:
        return "fuzzed"
    families = {m.split("-")[0] for m in threat.mitigations}
    if "M" in families:
        return "no-evidence"
    if "U" in families:
        return "unmitigated"
    if families & {"O", "ASUM"}:
        return "operational"
    return "no-evidence"


def _proof_evidence(threat: Threat, proofs: ProofFacts | None) -> list[Evidence]:
    if proofs is None:
        return []
    found = [v for v in proofs.violations if threat.id in v.threats]
    evidence = []
    for invariant in dict.fromkeys(v.invariant for v in found):
        removed = ", ".join(dict.fromkeys(v.mitigation for v in found if v.invariant == invariant))
        status = proofs.invariants.get(invariant, "unknown")
        failure = proofs.failures.get(invariant)
        if failure is not None and threat.id not in failure.threats:
            # The invariant does not hold in this deployment, but its counterexample is another row's attack: no
            # proof for this row, and no failure of this row's mitigations either.
            evidence.append(
                Evidence(
                    "proof",
                    invariant,
                    NOT_PROVED,
                    f"does not hold in {proofs.variant}: its counterexample realises {', '.join(failure.threats)}, "
                    f"not this row; without {removed} a run realising this row breaks it too",
                )
            )
            continue
        evidence.append(
            Evidence(
                "proof",
                invariant,
                status,
                f"proved inductive with Z3 in {proofs.variant}; without {removed} a run realising this row breaks it",
            )
        )
    for mitigation, capability in dict.fromkeys((v.mitigation, v.capability) for v in found):
        runs = [v for v in found if (v.mitigation, v.capability) == (mitigation, capability)]
        outcome = "found" if all(v.confirmed for v in runs) else "unconfirmed"
        broken = ", ".join(v.invariant for v in runs)
        evidence.append(Evidence("counterexample", f"{mitigation} removed: {capability}", outcome, f"breaks {broken}"))
    for failure in proofs.failures.values():
        if threat.id in failure.threats:
            evidence.append(_open_attack(threat, failure, proofs.variant))
    return evidence


def _open_attack(threat: Threat, failure: Failure, variant: str) -> Evidence:
    """A run that breaks `failure.invariant` with every mitigation of the deployment in force realises this row.
    Where the document answers the row with unmitigations only (U-), that is the document's own word, confirmed;
    where it names a mitigation, or none at all, the row is open although the document does not say so: failing."""
    capabilities = " + ".join(failure.capabilities)
    if not failure.confirmed:
        outcome = "unconfirmed"
    elif threat.mitigations and all(m.startswith("U-") for m in threat.mitigations):
        outcome = "found"
    else:
        outcome = "failed"
    detail = (
        f"with every mitigation of {variant} in force, {capabilities} breaks {failure.invariant} in a run realising "
        f"this row (the row names {', '.join(threat.mitigations) or 'no mitigation'} here)"
    )
    return Evidence("counterexample", f"{failure.invariant} fails: {capabilities}", outcome, detail)


def _test_evidence(threat: Threat, tests: tuple[TestResult, ...]) -> list[Evidence]:
    evidence = []
    mitigations = set(threat.mitigations)
    for test in tests:
        if threat.id in test.threats:
            detail = f"marked {threat.id}"
        else:
            named = [i for i in test.threats if i in mitigations]
            if not named:
                continue
            detail = f"marked {', '.join(named)}, a mitigation of this row"
        evidence.append(Evidence("test", test.nodeid, test.outcome, detail))
    return evidence


def _property_evidence(
    threat: Threat, properties: tuple[FuzzProperty, ...], tests: tuple[TestResult, ...]
) -> list[Evidence]:
    evidence = []
    for prop in properties:
        if threat.id not in prop.threats:
            continue
        runs = [t.outcome for t in tests if t.nodeid.startswith(prop.checked_by)]
        if any(outcome in FAILED for outcome in runs):
            outcome = "failed"
        elif any(outcome in PASSED for outcome in runs):
            outcome = "passed"
        else:
            outcome = "not-run"
        evidence.append(Evidence("property", prop.id, outcome, prop.statement))
    return evidence


def _document_evidence(threat: Threat, catalogue: Catalogue) -> list[Evidence]:
    evidence = []
    for identifier in threat.mitigations:
        if identifier.startswith("ASUM-") and identifier in catalogue:
            text = catalogue.assumption(identifier).text
            evidence.append(Evidence("operational", identifier, "operational", f"assumption: {text}"))
        elif identifier in catalogue and identifier[:2] in ("O-", "U-"):
            entry = catalogue.mitigation(identifier)
            kind = "operational" if entry.kind == "O" else "unmitigated"
            detail = entry.justification + (f" Consequences: {entry.details}" if kind == "unmitigated" else "")
            beyond = MITIGATED_BY_THE_REFERENCE_SERVICE.get(identifier)
            if beyond is not None:
                detail += (
                    f" (In Parsec.) The reference service mitigates it {beyond.how} "
                    f"(tests: {'; '.join(beyond.tests)}; benchmark: {beyond.bench})."
                )
            evidence.append(Evidence(kind, identifier, kind, detail))
    return evidence
