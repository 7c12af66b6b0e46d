"""Inductive proofs of the invariants with Z3, for any number of tenants, key names and keys.

For an invariant P strengthened by lemmas L (`properties.invariants.LEMMAS`), over the unbounded universe
(uninterpreted sorts of application names, key names and key IDs):

1. initiation: every initial state satisfies L (and P when P is a state invariant);
2. consecution: for every transition open in the deployment with the seed's mitigations in force,
   L(s) ∧ T(s, s') ⇒ L(s') (and P(s, s') when P is a step invariant);
3. a state invariant follows from its lemmas: L(s) ⇒ P(s).

Each check is one unsatisfiability query on a fresh solver (Z3's incremental mode is far slower on these quantified
queries); a `sat` answer names the transition that breaks the argument. Transitions that leave the state as it is
(reads) preserve the lemmas by construction; their step invariants are checked together in one query, and one by
one only if that query fails. The transition relation is encoded once per
deployment (`encode_system`) and shared by the invariants' proofs; that encoding time is reported on its own.

`breaks_proof` runs the consecution check for transitions outside the system: with a mitigation removed,
the invariant stays proved unless one of the transitions it opens fails that check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import z3

from model.nouns import VariantName
from model.symbolic import Expr, SymState, SymStep, Universe, fresh_state, initial_sym_state, unbounded_universe
from model.transitions import seed_mitigations
from properties.invariants import LEMMAS, Invariant
from properties.system import Instance, open_instances

ProofStatus = Literal["proved", "failed", "unknown"]
QUERY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class ProofResult:
    """The outcome of one invariant's proof in one deployment."""

    invariant: str
    variant: VariantName
    status: ProofStatus
    seconds: float
    lemmas: tuple[str, ...]
    failing_checks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.invariant,
            "variant": self.variant,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "strengthening": list(self.lemmas),
            "failing_checks": list(self.failing_checks),
        }


@dataclass(frozen=True)
class SystemEncoding:
    """The transition relation of one deployment over the unbounded universe, with every lemma pre-encoded."""

    universe: Universe
    variant: VariantName
    pre: SymState
    steps: tuple[tuple[Instance, SymStep], ...]
    init_lemmas: dict[str, Expr]
    pre_lemmas: dict[str, Expr]
    seconds: float


def encode_system(variant: VariantName, mitigations: frozenset[str] | None = None) -> SystemEncoding:
    """Encode every transition open in `variant` (default: with the seed's mitigations in force)."""
    started = time.perf_counter()
    in_force = seed_mitigations() if mitigations is None else mitigations
    u = unbounded_universe()
    pre = fresh_state(u, "pre")
    init = initial_sym_state(u, variant)
    steps = tuple((i, i.apply(u, pre, i.params(u, "x"))) for i in open_instances(variant, in_force))
    return SystemEncoding(
        universe=u,
        variant=variant,
        pre=pre,
        steps=steps,
        init_lemmas={name: lemma.formula(u, init, variant) for name, lemma in LEMMAS.items()},
        pre_lemmas={name: lemma.formula(u, pre, variant) for name, lemma in LEMMAS.items()},
        seconds=time.perf_counter() - started,
    )


def _refute(*facts: Expr, timeout_ms: int = QUERY_TIMEOUT_MS) -> z3.CheckSatResult:
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*facts)
    return solver.check()


def _consecution(
    invariant: Invariant, system: SystemEncoding, instance: Instance, step: SymStep, timeout_ms: int = QUERY_TIMEOUT_MS
) -> z3.CheckSatResult:
    """L(s) ∧ T(s, s') ⇒ L(s') ∧ P: unsat when `instance` preserves the strengthened invariant."""
    u, variant, pre = system.universe, system.variant, system.pre
    lemmas = invariant.lemmas_for(variant)
    goal = [LEMMAS[name].formula(u, step.post, variant) for name in lemmas]
    if invariant.step_formula is not None:
        goal.append(invariant.step_formula(u, pre, step.effects, step.post))
    assumed = z3.And([system.pre_lemmas[name] for name in lemmas])
    return _refute(assumed, step.guard, z3.Not(z3.And(goal)), timeout_ms=timeout_ms)


def _read_only(
    system: SystemEncoding, steps: list[tuple[Instance, SymStep]]
) -> tuple[list[tuple[Instance, SymStep]], list[tuple[Instance, SymStep]]]:
    """Split `steps` into those whose post-state is the pre-state itself (reads) and the others."""
    reads = [(i, s) for i, s in steps if s.post is system.pre]
    writes = [(i, s) for i, s in steps if s.post is not system.pre]
    return reads, writes


def _reads_preserve(invariant: Invariant, system: SystemEncoding, reads: list[tuple[Instance, SymStep]]) -> bool:
    """Steps that leave the state as it is preserve the lemmas trivially; their step invariant is checked in one
    query over all of them."""
    if invariant.step_formula is None or not reads:
        return True
    u, pre, variant = system.universe, system.pre, system.variant
    assumed = z3.And([system.pre_lemmas[name] for name in invariant.lemmas_for(variant)])
    choice = z3.Int("read")
    broken = [
        z3.And(choice == j, step.guard, z3.Not(invariant.step_formula(u, pre, step.effects, step.post)))
        for j, (_, step) in enumerate(reads)
    ]
    return bool(_refute(assumed, z3.Or(broken)) == z3.unsat)


def breaks_proof(
    invariant: Invariant, system: SystemEncoding, instances: tuple[Instance, ...], timeout_ms: int = 2_000
) -> bool:
    """Whether some of `instances` (transitions outside `system`) fails the consecution check of `invariant`."""
    u, pre = system.universe, system.pre
    reads, writes = _read_only(system, [(i, i.apply(u, pre, i.params(u, "x"))) for i in instances])
    if not _reads_preserve(invariant, system, reads):
        return True
    return any(_consecution(invariant, system, instance, step, timeout_ms) != z3.unsat for instance, step in writes)


def prove(invariant: Invariant, system: SystemEncoding) -> ProofResult:
    """Prove `invariant` inductive over the encoded transition system."""
    started = time.perf_counter()
    u, variant, pre = system.universe, system.variant, system.pre
    verdicts: dict[str, z3.CheckSatResult] = {}
    init = initial_sym_state(u, variant)
    initiation = [system.init_lemmas[name] for name in invariant.lemmas_for(variant)]
    if invariant.state_formula is not None:
        initiation.append(invariant.state_formula(u, init))
    verdicts["initiation"] = _refute(z3.Not(z3.And(initiation)))
    assumed = z3.And([system.pre_lemmas[name] for name in invariant.lemmas_for(variant)])
    if invariant.state_formula is not None:
        verdicts["lemmas imply the invariant"] = _refute(assumed, z3.Not(invariant.state_formula(u, pre)))
    reads, writes = _read_only(system, list(system.steps))
    checked_one_by_one = writes if _reads_preserve(invariant, system, reads) else list(system.steps)
    for instance, step in checked_one_by_one:
        verdicts[instance.label] = _consecution(invariant, system, instance, step)
    failing = tuple(label for label, verdict in verdicts.items() if verdict != z3.unsat)
    status: ProofStatus = "proved"
    if any(verdicts[label] == z3.sat for label in failing):
        status = "failed"
    elif failing:
        status = "unknown"
    return ProofResult(
        invariant.id, variant, status, time.perf_counter() - started, invariant.lemmas_for(variant), failing
    )
