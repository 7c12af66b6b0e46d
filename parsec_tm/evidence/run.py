"""Gather evidence from the usual sources in one call: the built-in model's proofs, a results file, a catalogue.

`evidence_report` is what ``parsec-tm evidence`` and the ``check`` stage call; `check_lines` is the stage's verdict
as (passed, summary, failure lines).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dataflow.catalogue import load_catalogue
from parsec_tm.evidence.gather import FAILING_OUTCOMES, EvidenceReport, gather_evidence
from parsec_tm.evidence.proofs import ProofFacts, proof_facts, run_proofs
from parsec_tm.evidence.results import load_results


def evidence_report(
    results: str | Path | None = None,
    *,
    model: str | None = None,
    catalogue: str | Path | None = None,
    variant: str | None = None,
    proofs: bool = True,
    proof_report: Mapping[str, Any] | None = None,
) -> EvidenceReport:
    """The evidence of every row of `variant` of a built-in `model` (default: the seed) or a `catalogue` file: proofs
    of the formal model (or the facts of an already computed `proof_report`, in its JSON form), tests from the
    `results` file. A catalogue file gets no proofs: the formal model is built on the built-in threat model."""
    base = load_catalogue(catalogue, model=None if catalogue else model)
    selected = base.variant(variant or base.variants[0].id)
    facts: ProofFacts | None = None
    if proof_report is not None:
        facts = proof_facts(proof_report, selected.variant_id)
    elif proofs and catalogue is None:
        facts = run_proofs(selected.variant_id)
    tests = load_results(results) if results is not None else None
    return gather_evidence(selected, facts, tests)


def check_lines(report: EvidenceReport) -> tuple[bool, str, list[str]]:
    """The evidence stage of a check: it fails when any evidence fails; rows that miss the goal are listed too."""
    summary = report.summary()
    counts = ", ".join(f"{n} {s}" for s, n in summary["statuses"].items() if n)
    text = (
        f"{summary['threats']} rows ({report.variant}): {counts}; M- rows backed "
        f"{summary['with_m_mitigation_backed']}/{summary['with_m_mitigation']}"
    )
    failures = [
        f"{t.id}: {e.kind} {e.ref}: {e.outcome}"
        for t in report.failing
        for e in t.evidence
        if e.outcome in FAILING_OUTCOMES
    ]
    return not failures, text, failures
