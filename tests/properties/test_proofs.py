"""Every invariant is proved inductive, for any number of tenants and keys, in both deployments; the strengthening
lemmas are needed (without them the proofs fail) and the concrete forms of the invariants agree with the proofs."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import z3

import model.step as model_step
import model.symbolic
from model.frozen import FrozenMap
from model.nouns import VARIANTS
from model.operations import CrashAfterProviderWrite, Restart
from model.sampling import Scope, random_walk
from model.state import State
from model.symbolic import Expr, SymState, Universe
from model.transitions import seed_mitigations
from properties.explore import explore
from properties.induction import encode_system, prove
from properties.invariants import INVARIANTS, LEMMAS, Lemma, invariant, violated_by
from properties.prove import ProofReport


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("invariant_id", [inv.id for inv in INVARIANTS])
def test_invariant_is_proved(report: ProofReport, invariant_id: str, variant: str) -> None:
    results = [r for r in report.invariants if r.invariant == invariant_id and r.variant == variant]
    assert len(results) == 1
    assert results[0].status == "proved", results[0].failing_checks
    assert set(results[0].lemmas) <= set(LEMMAS)


def test_the_strengthening_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """ "The same name under two tenants names two keys" is not inductive on its own: key creation can reuse the
    handle of another tenant's mapping unless the key-ownership lemma says mappings name allocated keys."""
    distinct = invariant("distinct-tenants-distinct-keys")
    assert distinct.state_formula is not None
    formula = distinct.state_formula
    monkeypatch.setitem(LEMMAS, "itself", Lemma("itself", distinct.statement, lambda u, s, v: formula(u, s)))
    alone = replace(distinct, lemmas=("itself",))
    result = prove(alone, encode_system("no-idp"))
    assert result.status == "unconfirmed", "true but not inductive: no run breaks it, so it must not say failed"
    assert "GenerateKey" in result.failing_checks and result.counterexample is None
    assert dict(result.z3_model)["transition"] == "GenerateKey"


@pytest.mark.parametrize("seed", range(4))
def test_seed_mitigations_keep_every_concrete_run_within_the_invariants(seed: int) -> None:
    variant = VARIANTS[seed % 2]
    for pre, _, result in random_walk(Scope(), variant, random.Random(seed), 30, seed_mitigations()):
        if result is not None:
            assert violated_by(pre, result[1], result[0]) == ()


def _parsec_recovery(state: State) -> State:
    """What Parsec 1.x does at start-up: drop dangling mappings, leave provider keys no mapping names."""
    kept = {i: e for i, e in state.mappings.items() if e.handle in state.provider_keys}
    return state.evolve(mappings=FrozenMap(kept))


def _parsec_recovery_symbolic(u: Universe, s: SymState) -> SymState:
    def kept(t: Expr, n: Expr) -> Expr:
        return z3.And(s.mapped[t, n], s.stored[s.key_handle[t, n]])

    return replace(s, mapped=u.table([u.Tenant, u.Name], kept))


def test_without_orphan_recovery_a_crash_breaks_mapping_integrity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through crash and restart: the recovery that destroys orphan provider keys is what keeps mapping integrity."""
    monkeypatch.setattr(model_step, "recover", _parsec_recovery)
    monkeypatch.setattr(model.symbolic, "recover", _parsec_recovery_symbolic)
    integrity = invariant("mapping-integrity")
    result = prove(integrity, encode_system("no-idp"))
    assert result.status == "failed" and "Restart" in result.failing_checks
    assert result.counterexample is not None and result.counterexample.confirmed_by_z3
    assert [type(s.operation) for s in result.counterexample.steps] == [CrashAfterProviderWrite, Restart]
    found = explore("no-idp", seed_mitigations(), frozenset({CrashAfterProviderWrite}), (integrity,))
    steps = [type(s.operation) for s in found["mapping-integrity"].steps]
    assert steps == [CrashAfterProviderWrite, Restart]
