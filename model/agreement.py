"""Systematic agreement between `model.step` and its Z3 twin (`model.symbolic`): every transition, every status.

The model is defined twice, once in Python and once in Z3; nothing but this check holds the two equal. Instead of
sampling, it enumerates: in each deployment, a fixed set of small representative states (no keys; keys of every kind
and policy under several tenants and providers; a TPM key to attest; stopped; crashed; dangling and orphaned keys; a
tampered and reloaded configuration; stolen tokens and a forged trust bundle), and from each of them *every*
operation of every registered transition over a small scope of values (tenants under the configured and a foreign
authenticator and NoAuth, both key names, every provider, one policy per key kind plus a non-exportable and an empty
one, the keys present and one absent, every signal and authenticator; each request class an operation can carry).
Every operation is run concretely; the runs are grouped by *behaviour* — the transition instance (operation class and
carried request class), the status or refusal, and the shape of the effects and of the state change — and up to
`CHECKS_PER_BEHAVIOUR` runs of each behaviour are checked against the twin: encoded as ground terms, the symbolic
transition must be enabled exactly when `step` accepts the operation, with the same status, an equivalent post-state
and the same effects.

`coverage` then compares the (instance, status) pairs exercised with those the twin can produce from some state of
the scope (`symbolic_statuses`), so a status the enumeration never reaches is named, not silently missed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import z3

from model.codec import FieldKind, effects_match, encode_params, encode_state, field_kinds, fresh_params
from model.nouns import (
    AUTHENTICATORS,
    VARIANTS,
    Handle,
    KeyAttributes,
    KeyKind,
    KeyName,
    ProviderId,
    Signal,
    Tenant,
    Usage,
    VariantName,
)
from model.operations import (
    AddConfiguredAdmin,
    ConfigureRogueProvider,
    Crash,
    CrashAfterMappingRemoval,
    DestroyKey,
    DropConfiguredProvider,
    GenerateKey,
    HardwareTamper,
    ImportKey,
    Operation,
    Reload,
    Request,
    SetConfiguredAuthenticator,
    Shutdown,
    SpoofTrustBundle,
    StealToken,
    UseUnixAccount,
    WriteMapping,
    carried_requests,
)
from model.sampling import Scope
from model.state import State
from model.step import NotEnabled, Outcome, step
from model.symbolic import ENCODERS, ENUMS, EXTRA_PARAMS, NO_RESPONSE, Params, Universe, encode, fresh_state
from model.transitions import REGISTRY

SCOPE = Scope()
CHECKS_PER_BEHAVIOUR = 1
REFUSED = "refused"
"""The status label of an operation whose precondition does not hold (`NotEnabled`)."""
NO_ANSWER = "no-answer"
"""The status label of an operation the service does not answer (`Outcome.status is None`)."""

ALL_USAGE = frozenset(Usage)
POLICIES: tuple[KeyAttributes, ...] = tuple(KeyAttributes(kind, ALL_USAGE) for kind in KeyKind)
"""Policies key creations carry: every kind (which decides their status). The keys of the representative states
have the other policies (no export flag, no flag at all) that decide the statuses of key use."""


def label(operation: type[Operation], inner: type[Request] | None = None) -> str:
    """The name of a transition instance: `TamperInTransit[ExportKey]`, `Reload`."""
    return f"{operation.__name__}[{inner.__name__}]" if inner is not None else operation.__name__


def instances() -> tuple[tuple[type[Operation], type[Request] | None], ...]:
    """Every transition instance of the registry: operation class, and the class of the request it carries."""
    found: list[tuple[type[Operation], type[Request] | None]] = []
    for operation in sorted(REGISTRY, key=lambda c: c.__name__):
        carried = carried_requests(operation)
        found += [(operation, inner) for inner in carried] if carried else [(operation, None)]
    return tuple(found)


def missing_encoders() -> tuple[str, ...]:
    """Registered transitions the twin has no encoder for (the proofs cannot cover them)."""
    return tuple(sorted(op.__name__ for op in REGISTRY if op not in ENCODERS))


# ----------------------------------------------------------------------------------------------- representative states
def _tenants(state: State) -> tuple[Tenant, Tenant, Tenant]:
    auth = state.active.authenticator
    return tuple(Tenant(auth, app) for app in SCOPE.apps)  # type: ignore[return-value]


def _apply(state: State, *operations: Operation) -> State:
    for operation in operations:
        state, _ = step(state, operation, frozenset())
    return state


def representative_states(variant: VariantName) -> tuple[tuple[str, State], ...]:
    """Named small states covering what the statuses depend on (built by running the model, attacks open)."""
    initial = SCOPE.initial_state(variant)
    alice, bob, admin = _tenants(initial)
    k1, k2 = (KeyName(n) for n in SCOPE.names)
    mbed, pkcs11, tpm = ProviderId.MBED_CRYPTO, ProviderId.PKCS11, ProviderId.TPM
    keys = _apply(
        initial,
        GenerateKey(alice, mbed, k1, KeyAttributes(KeyKind.ECC_SIGN_PAIR, ALL_USAGE)),
        GenerateKey(alice, pkcs11, k2, KeyAttributes(KeyKind.RSA_ENCRYPT_PAIR, ALL_USAGE)),
        ImportKey(bob, mbed, k1, KeyAttributes(KeyKind.AES, ALL_USAGE)),
        ImportKey(bob, tpm, k2, KeyAttributes(KeyKind.RSA_PUBLIC, frozenset({Usage.EXPORT}))),
        GenerateKey(admin, mbed, k1, KeyAttributes(KeyKind.ECDH_PAIR, ALL_USAGE - {Usage.EXPORT})),
        GenerateKey(admin, pkcs11, k2, KeyAttributes(KeyKind.ECC_SIGN_PAIR, frozenset())),
    )
    pkcs11_key = keys.mappings[next(i for i in keys.mappings if i.tenant == alice and i.key_name == k2)].handle
    tpm_key = keys.mappings[next(i for i in keys.mappings if i.tenant == bob and i.key_name == k2)].handle
    damaged = _apply(keys, HardwareTamper(bob, pkcs11_key), WriteMapping(bob, admin, k2, mbed, tpm_key))
    orphaned = _apply(keys, CrashAfterMappingRemoval(DestroyKey(admin, pkcs11, k2)))
    other_auth = next(a for a in AUTHENTICATORS if a != initial.active.authenticator)
    reconfigured = _apply(
        keys,
        ConfigureRogueProvider(bob, mbed),
        DropConfiguredProvider(bob, tpm),
        AddConfiguredAdmin(bob, alice.name),
        Reload(),
        SetConfiguredAuthenticator(bob, other_auth),
    )
    reauthenticated = _apply(keys, SetConfiguredAuthenticator(bob, "peer"), Reload())
    capture = next((c for c in (StealToken, UseUnixAccount) if REGISTRY[c].exists_in(variant)), None)
    attestable = _apply(initial, GenerateKey(alice, tpm, k1, KeyAttributes(KeyKind.ECC_SIGN_PAIR, frozenset())))
    if capture is not None:  # so that an impersonator can attest the key too
        attestable = _apply(attestable, capture(bob, alice))
    states = [
        ("initial", initial),
        ("keys", keys),
        ("attestable", attestable),  # a TPM key with private material: key attestation succeeds
        ("stopped", _apply(keys, Shutdown())),
        ("crashed", _apply(keys, Crash())),
        ("dangling", damaged),
        ("crashed-with-orphan", orphaned),
        ("reconfigured", reconfigured),
        ("peer-authenticated", reauthenticated),
    ]
    if capture is not None:
        states.append(("stolen-credentials", _apply(keys, capture(bob, alice), capture(bob, admin))))
    if REGISTRY[SpoofTrustBundle].exists_in(variant):
        states.append(("forged-bundle", _apply(keys, SpoofTrustBundle(bob))))
    return tuple(states)


# ------------------------------------------------------------------------------------------------------ operations
@dataclass(frozen=True)
class _Values:
    tenants: tuple[Tenant, ...]
    attacker: Tenant
    handles: tuple[Handle, ...]


def _values(operation: type[Operation], name: str, kind: FieldKind, values: _Values) -> list[Any]:
    match kind:
        case "request":
            return [r for inner in carried_requests(operation) for r in operations_of(inner, values)]
        case "tenant":
            return [values.attacker] if name == "attacker" else list(values.tenants)
        case "opt_tenant":
            return [*values.tenants, None]
        case "name":
            return [KeyName(n) for n in SCOPE.names]
        case "app":
            return list(SCOPE.apps)
        case "provider":
            return list(ProviderId)
        case "attrs":
            return list(POLICIES)
        case "bool":
            return [True, False]
        case "int":
            return [32, 1 << 21]
        case "handle":
            return list(values.handles)
        case "signal":
            return list(Signal)
        case "auth":
            return list(AUTHENTICATORS)
    raise AssertionError(kind)


def operations_of(operation: type[Operation], values: _Values) -> Iterator[Operation]:
    """Every operation of class `operation` over the scope's values."""
    kinds = [(name, kind) for name, kind in field_kinds(operation) if name != "fresh_handle"]
    choices = [_values(operation, name, kind, values) for name, kind in kinds]
    for combination in itertools.product(*choices):
        yield operation(**{name: value for (name, _), value in zip(kinds, combination, strict=True)})


def _scope_values(state: State) -> _Values:
    alice, bob, admin = _tenants(state)
    foreign = Tenant(next(a for a in AUTHENTICATORS if a != state.active.authenticator), alice.name)
    absent = Handle(ProviderId.MBED_CRYPTO, SCOPE.max_key_id)
    return _Values((alice, bob, admin, foreign), bob, (*sorted(state.provider_keys), absent))


# --------------------------------------------------------------------------------------------------------- checks
def fresh_handle(pre: State, post: State | None) -> Handle:
    """The key ID a key creation allocated (the twin takes it as a parameter); any ID otherwise."""
    if post is not None:
        created = sorted(set(post.provider_keys) - set(pre.provider_keys))
        if created:
            return created[0]
    return Handle(ProviderId.MBED_CRYPTO, min(pre.next_key_id, SCOPE.max_key_id))


def disagreement(pre: State, operation: Operation, result: tuple[State, Outcome] | None) -> str | None:
    """How the twin disagrees with the concrete run of `operation` from `pre` (None when it agrees)."""
    u = SCOPE.universe
    post = result[0] if result is not None else None
    symbolic = encode(u, _encoded(pre), encode_params(u, operation, fresh_handle(pre, post)))
    if result is None:
        return None if z3.is_false(z3.simplify(symbolic.guard)) else "enabled symbolically, refused concretely"
    post, outcome = result
    status = ENUMS.status[outcome.status if outcome.status is not None else NO_RESPONSE]
    parts = {
        "guard": symbolic.guard,
        "status": symbolic.status == status,
        "state": symbolic.post.equivalent(_encoded(post), u),
        "effects": effects_match(u, symbolic.effects, outcome.effects),
    }
    failing = [name for name, part in parts.items() if not z3.is_true(z3.simplify(part))]
    return f"{', '.join(failing)} differ" if failing else None


_ENCODED: dict[State, Any] = {}


def _encoded(state: State) -> Any:
    if state not in _ENCODED:
        if len(_ENCODED) > 512:
            _ENCODED.clear()
        _ENCODED[state] = encode_state(SCOPE.universe, state)
    return _ENCODED[state]


def _instance_of(operation: Operation) -> str:
    carried = getattr(operation, "request", None)
    return label(type(operation), type(carried) if isinstance(carried, Request) else None)


def behaviour(pre: State, operation: Operation, result: tuple[State, Outcome] | None) -> tuple[Any, ...]:
    """What distinguishes one run from another for the twin: instance, status, effect shape, what changed."""
    if result is None:
        return (_instance_of(operation), REFUSED)
    post, outcome = result
    effects = outcome.effects
    owners = {h: k.owner for h, k in pre.provider_keys.items()}
    shape = (
        effects.actor is None,
        effects.namespace is None,
        effects.namespace == effects.actor,
        tuple(sorted((owners.get(h) == effects.actor, h in pre.provider_keys) for h in effects.touched)),
        tuple((r.recipient is None, r.recipient == owners.get(r.handle), r.via_export_key) for r in effects.releases),
        effects.admin_op,
        effects.deleted_client is None,
        effects.reconfigured,
        tuple(sorted(effects.marks)),
    )
    changed = tuple(f.name for f in fields(State) if getattr(pre, f.name) != getattr(post, f.name))
    return (_instance_of(operation), outcome.status or NO_ANSWER, shape, changed)


@dataclass
class AgreementReport:
    """What the enumeration ran and checked, and every disagreement found."""

    runs: int = 0
    checks: int = 0
    covered: dict[VariantName, set[tuple[str, str]]] = field(default_factory=dict)
    behaviours: int = 0
    disagreements: list[str] = field(default_factory=list)
    seconds: float = 0.0


def check_agreement(
    variants: tuple[VariantName, ...] = VARIANTS,
    checks_per_behaviour: int = CHECKS_PER_BEHAVIOUR,
    only: frozenset[type[Operation]] | None = None,
) -> AgreementReport:
    """Enumerate every operation from every representative state and check the twin on each behaviour
    (`only`: the operations of these transitions alone)."""
    started = time.perf_counter()
    report = AgreementReport()
    for variant in variants:
        checked: dict[tuple[Any, ...], int] = {}
        covered: set[tuple[str, str]] = set()
        for state_name, state in representative_states(variant):
            values = _scope_values(state)
            for operation_class in sorted(REGISTRY, key=lambda c: c.__name__):
                if not REGISTRY[operation_class].exists_in(variant) or (
                    only is not None and operation_class not in only
                ):
                    continue
                for operation in operations_of(operation_class, values):
                    try:
                        result: tuple[State, Outcome] | None = step(state, operation, frozenset())
                    except NotEnabled:
                        result = None
                    report.runs += 1
                    key = (variant, *behaviour(state, operation, result))
                    covered.add((key[1], key[2]))
                    if checked.get(key, 0) >= checks_per_behaviour:
                        continue
                    checked[key] = checked.get(key, 0) + 1
                    report.checks += 1
                    problem = disagreement(state, operation, result)
                    if problem is not None:
                        report.disagreements.append(f"{variant}, {state_name}: {operation}: {problem}")
        report.covered[variant] = covered
        report.behaviours += len(checked)
    report.seconds = time.perf_counter() - started
    return report


# ---------------------------------------------------------------------------------------------------------- coverage
def symbolic_statuses(variant: VariantName) -> dict[str, frozenset[str]]:
    """For each instance of `variant`, the status labels the twin can produce from some state of the scope."""
    u: Universe = SCOPE.universe
    pre = fresh_state(u, "any")
    found: dict[str, frozenset[str]] = {}
    for operation, inner in instances():
        if not REGISTRY[operation].exists_in(variant) or operation not in ENCODERS:
            continue
        params = fresh_params(u, operation, "p", inner)
        symbolic = encode(u, pre, params)
        solver = z3.Solver()
        solver.set("timeout", 5_000)
        labels = set()
        if solver.check(z3.Not(symbolic.guard), _allocates_a_fresh_id(u, pre, params)) == z3.sat:
            labels.add(REFUSED)
        solver.add(symbolic.guard)
        while solver.check() == z3.sat:
            value = solver.model().eval(symbolic.status, model_completion=True)
            labels.add(NO_ANSWER if str(value) == NO_RESPONSE else str(value))
            solver.add(symbolic.status != value)
        found[label(operation, inner)] = frozenset(labels)
    return found


def _allocates_a_fresh_id(u: Universe, pre: Any, params: Params) -> Any:
    """The key ID the twin takes as a parameter of a key creation is one `step` could allocate: of the request's
    provider and never allocated (otherwise the twin refuses the step, a refusal `step` cannot make)."""
    if params.operation in EXTRA_PARAMS:
        fresh = params["fresh_handle"]
        return z3.And(u.provider_of(fresh) == params["provider"], z3.Not(pre.allocated[u.local_of(fresh)]))
    carried = params.values.get("request")
    return _allocates_a_fresh_id(u, pre, carried) if isinstance(carried, Params) else z3.BoolVal(True)


@dataclass(frozen=True)
class Coverage:
    """(instance, status) pairs the twin can produce, and those the enumeration checked, per deployment."""

    possible: dict[VariantName, frozenset[tuple[str, str]]]
    covered: dict[VariantName, frozenset[tuple[str, str]]]

    def missed(self, variant: VariantName) -> frozenset[tuple[str, str]]:
        return self.possible[variant] - self.covered[variant]

    def lines(self) -> list[str]:
        out = []
        for variant, possible in self.possible.items():
            hit = len(possible & self.covered[variant])
            transitions = len({i for i, _ in possible})
            out.append(
                f"{variant}: {transitions} transition instances, {hit}/{len(possible)} (instance, status) pairs "
                "the twin can produce were run and checked"
            )
            out += [f"  not reached: {i} -> {s}" for i, s in sorted(self.missed(variant))]
        return out


def coverage(report: AgreementReport) -> Coverage:
    """Compare what `report` exercised with what the twin can produce."""
    possible = {
        v: frozenset((i, s) for i, statuses in symbolic_statuses(v).items() for s in statuses) for v in report.covered
    }
    return Coverage(possible, {v: frozenset(c) for v, c in report.covered.items()})
