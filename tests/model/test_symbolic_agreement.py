"""The Z3 twin (`model.symbolic`) agrees with `model.step` on random states and operations.

Random walks with every mitigation removed reach states only attacks reach; at each step the concrete pre-state and
operation are encoded as ground terms, and Z3 must find the symbolic transition enabled exactly when `step` accepts
the operation, with the same status, an equivalent post-state and the same effects.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest
import z3

from model.codec import effects_match, encode_params, encode_state
from model.nouns import VARIANTS, Handle, KeyAttributes, KeyKind, KeyName, ProviderId, Tenant, Usage
from model.operations import KEY_NAMESPACE_REQUESTS, GenerateKey, ImportKey, KeyRequest, Operation
from model.sampling import Sampler, Scope, random_walk
from model.state import State
from model.step import NotEnabled, Outcome, step
from model.symbolic import ENUMS, NO_RESPONSE, encode
from model.tables import ArrayTable, FiniteTable, finite_table
from model.transitions import REGISTRY

SCOPE = Scope()
KEY_REQUESTS = tuple(c for c in KEY_NAMESPACE_REQUESTS if issubclass(c, KeyRequest))
WALKS = 6
LENGTH = 8


def _fresh_handle(pre: State, post: State | None) -> Handle:
    if post is not None:
        created = sorted(set(post.provider_keys) - set(pre.provider_keys))
        if created:
            return created[0]
    return Handle(ProviderId.MBED_CRYPTO, min(pre.next_key_id, SCOPE.max_key_id))


def _disagreement(pre: State, operation: Operation, result: tuple[State, Outcome] | None) -> str | None:
    u = SCOPE.universe
    post = result[0] if result is not None else None
    symbolic = encode(u, encode_state(u, pre), encode_params(u, operation, _fresh_handle(pre, post)))
    solver = z3.Solver()
    if result is None:
        solver.add(symbolic.guard)
        return None if solver.check() == z3.unsat else "enabled symbolically, refused concretely"
    post, outcome = result
    status = ENUMS.status[outcome.status if outcome.status is not None else NO_RESPONSE]
    parts = {
        "guard": symbolic.guard,
        "status": symbolic.status == status,
        "state": symbolic.post.equivalent(encode_state(u, post), u),
        "effects": effects_match(u, symbolic.effects, outcome.effects),
    }
    solver.add(z3.Not(z3.And(*parts.values())))
    if solver.check() == z3.unsat:
        return None
    failing = [name for name, part in parts.items() if z3.is_false(solver.model().eval(part, model_completion=True))]
    return f"{', '.join(failing)} differ"


@pytest.mark.parametrize("seed", range(WALKS))
def test_twin_agrees_with_step_on_a_random_walk(seed: int) -> None:
    rng = random.Random(seed)
    variant = VARIANTS[seed % 2]
    disagreements = []
    statuses: Counter[str | None] = Counter()
    for pre, operation, result in random_walk(SCOPE, variant, rng, LENGTH):
        if not REGISTRY[type(operation)].is_open(variant, frozenset()):
            continue
        problem = _disagreement(pre, operation, result)
        if problem:
            disagreements.append(f"{operation}: {problem}")
        statuses[result[1].status if result else "refused"] += 1
    assert disagreements == []
    assert sum(statuses.values()) >= LENGTH // 2


def test_walks_exercise_successes_and_attacks() -> None:
    kinds: Counter[str] = Counter()
    for seed in range(WALKS):
        rng = random.Random(seed)
        for _, operation, result in random_walk(SCOPE, VARIANTS[seed % 2], rng, LENGTH):
            if result is not None and result[1].status == "Success":
                kinds["success"] += 1
            if result is not None and REGISTRY[type(operation)].blocked_by:
                kinds["attack"] += 1
    assert kinds["success"] >= 5 and kinds["attack"] >= 5


def test_finite_and_array_tables_read_and_write_alike() -> None:
    sort, values = z3.EnumSort("TableProbe", ["a", "b", "c"])
    index, other = z3.Const("probe_i", sort), z3.Const("probe_j", sort)
    finite = finite_table([values], lambda v: v == values[0])
    array = ArrayTable(z3.Lambda([z3.Const("probe_v", sort)], z3.Const("probe_v", sort) == values[0]))
    cases = [
        (finite[index], array[index]),
        (finite.store(index, z3.BoolVal(False))[other], array.store(index, z3.BoolVal(False))[other]),
        (
            finite.ite(z3.Bool("probe_c"), finite.store(other, z3.BoolVal(True)))[index],
            array.ite(z3.Bool("probe_c"), array.store(other, z3.BoolVal(True)))[index],
        ),
    ]
    solver = z3.Solver()
    solver.add(z3.Or([a != b for a, b in cases]))
    assert solver.check() == z3.unsat
    assert isinstance(finite.store(values[1], z3.BoolVal(True)), FiniteTable)


def _rich_state() -> State:
    """Keys of several kinds, policies and providers, under two tenants."""
    alice, bob = Tenant("direct", "alice"), Tenant("direct", "bob")
    everything = frozenset(Usage)
    state = SCOPE.initial_state("no-idp")
    for request in (
        GenerateKey(alice, ProviderId.MBED_CRYPTO, KeyName("k1"), KeyAttributes(KeyKind.ECC_SIGN_PAIR, everything)),
        GenerateKey(alice, ProviderId.PKCS11, KeyName("k2"), KeyAttributes(KeyKind.RSA_ENCRYPT_PAIR, frozenset())),
        ImportKey(bob, ProviderId.MBED_CRYPTO, KeyName("k1"), KeyAttributes(KeyKind.AES, everything)),
        ImportKey(bob, ProviderId.TPM, KeyName("k2"), KeyAttributes(KeyKind.RSA_PUBLIC, frozenset({Usage.EXPORT}))),
    ):
        state, outcome = step(state, request)
        assert outcome.status == "Success"
    return state


@pytest.mark.parametrize("request_class", KEY_REQUESTS, ids=lambda c: str(c.__name__))
def test_twin_agrees_on_every_key_request_at_every_key(request_class: type) -> None:
    state = _rich_state()
    sampler = Sampler(SCOPE, random.Random(0))
    disagreements = []
    for identity, entry in state.mappings.items():
        for provider in {entry.provider, ProviderId.PKCS11}:
            sampled = sampler.operation(state, request_class)
            assert isinstance(sampled, KeyRequest)
            request = replace(sampled, caller=identity.tenant, provider=provider, key_name=identity.key_name)
            try:
                result: tuple[State, Outcome] | None = step(state, request)
            except NotEnabled:
                result = None
            problem = _disagreement(state, request, result)
            if problem:
                disagreements.append(f"{request}: {problem}")
    assert disagreements == []
