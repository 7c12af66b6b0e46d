"""What the formal model shows about threat rows, read from the proof report through one adapter.

`proof_facts` is the only function that knows the shape of the proof report (`properties.prove.ProofReport.to_dict`):
the statuses of the invariants and, for each mitigation verdict, the counterexamples found without it, with the
threat rows their attack steps realise. Everything else in this package works on `ProofFacts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROVED = "proved"
FOUND = "found"
UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class Violation:
    """A counterexample: without `mitigation`, attacker `capability` breaks `invariant` in a run realising `threats`."""

    mitigation: str
    capability: str
    invariant: str
    threats: tuple[str, ...]
    confirmed: bool

    @property
    def outcome(self) -> str:
        """``found`` when Z3 confirmed the run, else ``unconfirmed`` (which counts as failing evidence)."""
        return FOUND if self.confirmed else UNCONFIRMED


@dataclass(frozen=True)
class Failure:
    """An invariant that does not hold in the deployment: its counterexample (with every mitigation of the
    deployment in force) uses `capabilities` and realises `threats`; `confirmed` when Z3 confirmed the run."""

    invariant: str
    capabilities: tuple[str, ...]
    threats: tuple[str, ...]
    confirmed: bool


@dataclass(frozen=True)
class ProofFacts:
    """The proof report of one deployment as plain facts: invariant statuses, the counterexamples of the invariants
    that fail, and the counterexamples found with a mitigation removed."""

    variant: str
    invariants: Mapping[str, str]
    violations: tuple[Violation, ...]
    note: str = ""
    failures: Mapping[str, Failure] = field(default_factory=dict)


def proof_facts(report: Mapping[str, Any], variant: str) -> ProofFacts:
    """The adapter: the facts of `variant` in a proof report in its JSON form."""
    invariants = {
        str(entry["id"]): str(entry["status"]) for entry in report["invariants"] if entry["variant"] == variant
    }
    violations = tuple(
        Violation(
            str(verdict["mitigation"]),
            str(found["capability"]),
            str(found["invariant"]),
            tuple(str(t) for t in found["threats"]),
            bool(found.get("confirmed_by_z3", True)),
        )
        for verdict in report["mutations"]
        if verdict["variant"] == variant
        for found in verdict.get("violations", ())
    )
    failures = {
        str(entry["id"]): Failure(
            str(entry["id"]),
            tuple(str(c) for c in entry["counterexample"].get("capabilities", ())),
            tuple(str(t) for t in entry["counterexample"].get("threats", ())),
            bool(entry["counterexample"].get("confirmed_by_z3", False)),
        )
        for entry in report["invariants"]
        if entry["variant"] == variant and entry["status"] == "failed" and entry.get("counterexample")
    }
    return ProofFacts(variant, invariants, violations, failures=failures)


def run_proofs(variant: str) -> ProofFacts:
    """Prove the built-in model in `variant` and judge every mitigation; empty facts (with a note) when the formal
    model has no such deployment."""
    from properties.prove import run_all

    try:
        report = run_all(variant)
    except ValueError as error:
        return ProofFacts(variant, {}, (), note=f"no formal model of this deployment: {error}")
    return proof_facts(report.to_dict(), variant)
