"""A deliberately broken transition is caught: a key lookup that ignores the application (Parsec's key identity
without its application name) makes the proof of tenant isolation fail, and both bounded model checkers — the
explicit-state one on `model.step`, the Z3 unrolling on the twin — produce a run in which one tenant uses
another's key."""

from __future__ import annotations

import pytest
import z3

import model.step
import model.symbolic
from model.nouns import Handle, KeyIdentity
from model.operations import KEY_USE_REQUESTS, ExportKey, ExportPublicKey, GenerateKey, KeyRequest
from model.state import State
from model.step import Route
from model.symbolic import SymState, Universe
from model.transitions import seed_mitigations
from properties.bmc import SETUP_INSTANCES, search, unroll
from properties.explore import SearchScope, explore
from properties.induction import encode_system, prove
from properties.invariants import invariant
from properties.system import Instance

ISOLATION = invariant("tenant-isolation")


def _lookup_ignoring_application(state: State, request: KeyRequest, route: Route) -> Handle | None:
    """Finds the key by authenticator and key name only: any application's key of that name will do."""
    assert request.caller is not None
    for identity, entry in sorted(state.mappings.items(), key=lambda item: str(item[0])):
        same_name = identity == KeyIdentity(identity.tenant, request.key_name)
        same_auth = identity.tenant.auth == request.caller.auth
        resolves = entry.handle.provider is request.provider and entry.handle in state.provider_keys
        if same_name and same_auth and entry.provider is request.provider and resolves:
            return entry.handle
    return None


def _symbolic_lookup_ignoring_application(
    u: Universe, s: SymState, request: model.symbolic.Params, route: model.symbolic.Route
) -> tuple[z3.ExprRef, z3.ExprRef]:
    """The twin of the broken lookup: the key of some application holding that name under the same authenticator."""
    holder = u.tenant(u.auth_of(request["caller"].value), z3.FreshConst(u.App, "holder"))
    name, provider = request["key_name"], request["provider"]
    handle = s.key_handle[holder, name]
    found = z3.And(
        s.mapped[holder, name],
        s.key_provider[holder, name] == provider,
        u.provider_of(handle) == provider,
        s.stored[handle],
    )
    return found, handle


@pytest.fixture
def broken_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model.step, "_resolve", _lookup_ignoring_application)
    monkeypatch.setattr(model.symbolic, "_resolve", _symbolic_lookup_ignoring_application)


READING = (*KEY_USE_REQUESTS, ExportKey, ExportPublicKey)


@pytest.mark.usefixtures("broken_lookup")
@pytest.mark.threat("A1-S-1")
def test_the_proof_of_isolation_fails() -> None:
    result = prove(ISOLATION, encode_system("no-idp"))
    assert result.status == "failed"
    assert "SignHash" in result.failing_checks


@pytest.mark.usefixtures("broken_lookup")
def test_explicit_search_finds_one_tenant_using_anothers_key() -> None:
    found = explore("no-idp", seed_mitigations(), frozenset(READING), (ISOLATION,))
    counterexample = found["tenant-isolation"]
    assert counterexample.confirmed and len(counterexample.steps) == 2
    first, second = counterexample.steps
    assert first.operation.caller != second.operation.caller  # type: ignore[attr-defined]


@pytest.mark.usefixtures("broken_lookup")
def test_z3_bounded_model_checking_finds_it_too() -> None:
    unrolling = unroll(SearchScope().initial_state("no-idp"), seed_mitigations(), SETUP_INSTANCES, depth=2)
    counterexample = search(unrolling, ISOLATION)
    assert counterexample is not None and counterexample.confirmed
    created, used = (type(s.operation) for s in counterexample.steps)
    assert created is GenerateKey and used in READING


def test_with_the_lookup_intact_nothing_is_found() -> None:
    unrolling = unroll(SearchScope().initial_state("no-idp"), seed_mitigations(), SETUP_INSTANCES, depth=2)
    assert search(unrolling, ISOLATION) is None
    assert explore("no-idp", seed_mitigations(), frozenset(READING), (ISOLATION,)) == {}
    assert Instance(ExportKey) in SETUP_INSTANCES
