"""Inductive proofs of the invariants with Z3, for any number of tenants, key names and keys.

For an invariant P strengthened by lemmas L (`properties.invariants.LEMMAS`), over the unbounded universe
(uninterpreted sorts of application names, key names and key IDs):

1. initiation: every initial state satisfies L (and P when P is a state invariant);
2. consecution: for every transition open in the deployment with its document's mitigations in force,
   L(s) ∧ T(s, s') ⇒ L(s') (and P(s, s') when P is a step invariant);
3. a state invariant follows from its lemmas: L(s) ⇒ P(s).

Each check is one unsatisfiability query on a fresh solver (Z3's incremental mode is far slower on these quantified
queries); a `sat` answer names the transition that breaks the argument. Transitions that leave the state as it is
(reads) preserve the lemmas by construction; their step invariants are checked together in one query, and one by
one only if that query fails. The transition relation is encoded once per
deployment (`encode_system`) and shared by the invariants' proofs; that encoding time is reported on its own.

A check that is not refuted is not a verdict on the invariant: `prove` then looks for the evidence — the shortest
concrete run through the failing transitions that breaks the invariant (`properties.explore`), confirmed by the Z3
twin (`properties.bmc.confirm`), and Z3's model of the failing check — and says `failed` only with a confirmed run,
`unconfirmed` with a run Z3 does not admit or with none, `unknown` when the solver gave up. An invariant without a
Z3 form is `checked-concretely`: nothing is proved about it.

`breaks_proof` runs the consecution check for transitions outside the system: with a mitigation removed,
the invariant stays proved unless one of the transitions it opens fails that check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal

import z3

from model.nouns import VariantName
from model.symbolic import (
    Expr,
    Opt,
    Params,
    SymState,
    SymStep,
    Universe,
    fresh_state,
    initial_sym_state,
    unbounded_universe,
)
from model.transitions import REGISTRY, mitigations_in_force
from properties.bmc import confirm
from properties.explore import SEARCH_DEPTH, explore
from properties.invariants import LEMMAS, Invariant
from properties.system import Instance, open_instances
from properties.traces import Counterexample

ProofStatus = Literal["proved", "checked-concretely", "failed", "unconfirmed", "unknown"]
"""- proved: initiation and consecution hold for every open transition (unsat), for any number of tenants and keys;
- checked-concretely: the invariant has no Z3 form; only a bounded search of concrete runs looked for a violation;
- failed: a check is sat and a concrete run breaking the invariant was found and confirmed by the Z3 twin;
- unconfirmed: a check is sat, but no such run was found, or Z3 did not confirm the one found (the lemmas may be too
  weak, the run longer than the search, or the twin may disagree with the model);
- unknown: the solver gave up on some check (timeout) and none was sat."""

QUERY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class ProofResult:
    """The outcome of one invariant's proof in one deployment, with the evidence behind a status other than
    proved: the failing checks, Z3's model of the first one (`z3_model`: the transition's parameters, rendered),
    and the shortest concrete run found that breaks the invariant."""

    invariant: str
    variant: VariantName
    status: ProofStatus
    seconds: float
    lemmas: tuple[str, ...]
    failing_checks: tuple[str, ...] = ()
    reason: str = ""
    z3_model: tuple[tuple[str, str], ...] = ()
    counterexample: Counterexample | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.invariant,
            "variant": self.variant,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "strengthening": list(self.lemmas),
            "failing_checks": list(self.failing_checks),
            "reason": self.reason,
            "z3_model": {name: value for name, value in self.z3_model},
            "counterexample": self.counterexample.to_dict() if self.counterexample is not None else None,
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
    """Encode every transition open in `variant` (default: with its document's mitigations in force)."""
    started = time.perf_counter()
    in_force = mitigations_in_force(variant) if mitigations is None else mitigations
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


@dataclass(frozen=True)
class Verdict:
    """One query's answer, and the solver's model when it is sat."""

    result: z3.CheckSatResult
    model: z3.ModelRef | None = None
    why: str = ""
    """The solver's reason for `unknown` (a timeout, incomplete quantifier reasoning)."""


def _refute(*facts: Expr, timeout_ms: int = QUERY_TIMEOUT_MS) -> Verdict:
    solver = z3.Solver()
    solver.set("timeout", max(1, timeout_ms))
    solver.add(*facts)
    result = solver.check()
    why = solver.reason_unknown() if result == z3.unknown else ""
    return Verdict(result, solver.model() if result == z3.sat else None, why)


def _consecution(
    invariant: Invariant, system: SystemEncoding, instance: Instance, step: SymStep, timeout_ms: int = QUERY_TIMEOUT_MS
) -> Verdict:
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


def _reads_preserve(
    invariant: Invariant,
    system: SystemEncoding,
    reads: list[tuple[Instance, SymStep]],
    timeout_ms: int = QUERY_TIMEOUT_MS,
) -> bool:
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
    return bool(_refute(assumed, z3.Or(broken), timeout_ms=timeout_ms).result == z3.unsat)


def breaks_proof(
    invariant: Invariant, system: SystemEncoding, instances: tuple[Instance, ...], timeout_ms: int = 2_000
) -> bool:
    """Whether some of `instances` (transitions outside `system`) fails the consecution check of `invariant`."""
    u, pre = system.universe, system.pre
    reads, writes = _read_only(system, [(i, i.apply(u, pre, i.params(u, "x"))) for i in instances])
    if not _reads_preserve(invariant, system, reads, timeout_ms):
        return True
    return any(
        _consecution(invariant, system, instance, step, timeout_ms).result != z3.unsat for instance, step in writes
    )


def prove(invariant: Invariant, system: SystemEncoding, timeout_ms: int = QUERY_TIMEOUT_MS) -> ProofResult:
    """Prove `invariant` inductive over the encoded transition system; on failure, look for the evidence."""
    started = time.perf_counter()
    u, variant, pre = system.universe, system.variant, system.pre
    lemmas = invariant.lemmas_for(variant)
    if not invariant.has_z3_form:
        return _checked_concretely(invariant, system, started)
    verdicts: dict[str, Verdict] = {}
    init = initial_sym_state(u, variant)
    initiation = [system.init_lemmas[name] for name in lemmas]
    if invariant.state_formula is not None:
        initiation.append(invariant.state_formula(u, init))
    verdicts["initiation"] = _refute(z3.Not(z3.And(initiation)), timeout_ms=timeout_ms)
    assumed = z3.And([system.pre_lemmas[name] for name in lemmas])
    if invariant.state_formula is not None:
        verdicts["lemmas imply the invariant"] = _refute(
            assumed, z3.Not(invariant.state_formula(u, pre)), timeout_ms=timeout_ms
        )
    reads, writes = _read_only(system, list(system.steps))
    preserved = _reads_preserve(invariant, system, reads, timeout_ms)
    checked_one_by_one = writes if preserved else list(system.steps)
    for instance, step in checked_one_by_one:
        verdicts[instance.label] = _consecution(invariant, system, instance, step, timeout_ms)
    failing = tuple(label for label, verdict in verdicts.items() if verdict.result != z3.unsat)
    sat = [label for label in failing if verdicts[label].result == z3.sat]
    if not failing:
        return ProofResult(invariant.id, variant, "proved", time.perf_counter() - started, lemmas)
    instances = {instance.label: instance for instance, _ in system.steps}
    gave_up = [label for label in failing if label not in sat]
    why = sorted({verdicts[label].why for label in gave_up})
    given_up = f"; the solver gave up ({', '.join(why)}) on {', '.join(gave_up)}" if gave_up else ""
    z3_model = _relevant_model(system, instances.get(sat[0]), verdicts[sat[0]]) if sat else ()
    counterexample = _witness(invariant, variant, [instances[label] for label in failing if label in instances])
    status: ProofStatus
    fails_at = f"the inductive step fails at {', '.join(sat)}" if sat else "no check is refuted"
    if counterexample is not None and counterexample.confirmed and counterexample.confirmed_by_z3:
        status = "failed"
        reason = (
            f"{fails_at}{given_up}; a run of {len(counterexample.steps)} steps breaks the invariant, confirmed by "
            "the Z3 twin"
        )
    elif counterexample is not None:
        status = "unconfirmed"
        reason = (
            f"{fails_at}{given_up}; the run found breaks the invariant concretely but the Z3 twin does NOT confirm "
            "it: the model and its twin disagree"
        )
    elif sat:
        status = "unconfirmed"
        reason = (
            f"{fails_at}{given_up}, but no run of at most {SEARCH_DEPTH} steps in the search scope breaks the "
            "invariant: it may hold but need a stronger lemma, or the violation needs a longer run"
        )
    else:
        status = "unknown"
        reason = (
            f"the solver gave up ({', '.join(why)}; timeout {timeout_ms / 1000:g} s per query) on "
            f"{', '.join(gave_up)}, and no run of at most {SEARCH_DEPTH} steps through them breaks the invariant"
        )
    return ProofResult(
        invariant.id,
        variant,
        status,
        time.perf_counter() - started,
        lemmas,
        failing,
        reason=reason,
        z3_model=z3_model,
        counterexample=counterexample,
    )


def _checked_concretely(invariant: Invariant, system: SystemEncoding, started: float) -> ProofResult:
    """An invariant without a Z3 form: say so, and look for a short concrete run that breaks it."""
    found = explore(system.variant, mitigations_in_force(system.variant), frozenset(REGISTRY), (invariant,))
    counterexample = found.get(invariant.id)
    lemmas = invariant.lemmas_for(system.variant)
    if counterexample is not None:
        reason = f"no Z3 form, but a concrete run of {len(counterexample.steps)} steps breaks it (not checked by Z3)"
        return ProofResult(
            invariant.id,
            system.variant,
            "failed" if counterexample.confirmed else "unconfirmed",
            time.perf_counter() - started,
            lemmas,
            reason=reason,
            counterexample=counterexample,
        )
    reason = (
        f"no Z3 form (state_formula or step_formula), so nothing is proved: only runs of at most {SEARCH_DEPTH} "
        "steps in the search scope were checked; add a Z3 formula to prove it"
    )
    return ProofResult(
        invariant.id, system.variant, "checked-concretely", time.perf_counter() - started, lemmas, reason=reason
    )


def _witness(invariant: Invariant, variant: VariantName, failing: list[Instance]) -> Counterexample | None:
    """The shortest concrete run through one of the failing transitions that breaks `invariant`, checked by Z3."""
    if not failing:
        return None
    opened = frozenset(instance.operation for instance in failing)
    found = explore(variant, mitigations_in_force(variant), opened, (invariant,))
    counterexample = found.get(invariant.id)
    if counterexample is None:
        return None
    return replace(counterexample, confirmed_by_z3=confirm(counterexample))


def _relevant_model(system: SystemEncoding, instance: Instance | None, verdict: Verdict) -> tuple[tuple[str, str], ...]:
    """The part of Z3's model of a failing check a reader needs: the values of the transition's parameters."""
    model = verdict.model
    if model is None or instance is None:
        return ()
    params = instance.params(system.universe, "x")

    def flatten(prefix: str, values: Params) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name, value in values.values.items():
            path = f"{prefix}{name}"
            if isinstance(value, Params):
                out += flatten(f"{path}.", value)
            elif isinstance(value, Opt):
                present = model.eval(value.present, model_completion=True)
                shown = str(model.eval(value.value, model_completion=True)) if z3.is_true(present) else "none"
                out.append((path, shown))
            else:
                out.append((path, str(model.eval(value, model_completion=True))))
        return out

    return (("transition", instance.label), *flatten("", params))
