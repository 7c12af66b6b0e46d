"""Explicit-state bounded model checking of the concrete model: breadth-first, all runs of at most `depth` steps.

The scope fixes the names a run may use (`SearchScope`: three applications of which one is an administrator and one
the attacker, one key name, two crypto providers, one exportable signing-key policy) and the operations are every
open transition of the registry instantiated over it. States are deduplicated; runs are found shortest first.

Two facts from the proofs cut the search: with the seed's mitigations in force every invariant holds, so a run can
only break one after a step whose transition the removed mitigation opened (`opened`). States reached by such runs
are *tainted*; only transitions out of tainted states, and opened transitions out of any state, are checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from model.codec import FieldKind, field_kinds
from model.nouns import (
    AUTHENTICATORS,
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
    Attack,
    DeleteClient,
    DestroyKey,
    ExportKey,
    GenerateKey,
    ListClients,
    ListKeys,
    Operation,
    Request,
    SignHash,
    carried_requests,
)
from model.state import State, initial_state
from model.step import NotEnabled, step
from model.transitions import REGISTRY
from properties.invariants import INVARIANTS, Invariant
from properties.traces import Counterexample, run

SEARCH_DEPTH = 3


@dataclass(frozen=True)
class SearchScope:
    """The names and policies runs may use; `requests` are the request classes instantiated."""

    apps: tuple[str, ...] = ("alice", "bob", "mallory")
    admin: str = "bob"
    attacker: str = "mallory"
    key_name: str = "k1"
    providers: tuple[ProviderId, ...] = (ProviderId.MBED_CRYPTO, ProviderId.PKCS11)
    attributes: KeyAttributes = field(
        default_factory=lambda: KeyAttributes(KeyKind.ECC_SIGN_PAIR, frozenset({Usage.EXPORT, Usage.SIGN_HASH}))
    )
    requests: tuple[type[Request], ...] = (
        GenerateKey,
        DestroyKey,
        SignHash,
        ExportKey,
        ListKeys,
        ListClients,
        DeleteClient,
    )

    def initial_state(self, variant: VariantName) -> State:
        return initial_state(variant, admins=frozenset({self.admin}), providers=self.providers)


@dataclass(frozen=True)
class _Names:
    """The values fields take in one state: tenants under the authenticator in force, the keys present."""

    tenants: tuple[Tenant, ...]
    attacker: Tenant
    handles: tuple[Handle, ...]


class Alphabet:
    """Every operation of the open transitions, instantiated over a scope (key IDs: those of the state)."""

    def __init__(
        self,
        scope: SearchScope,
        variant: VariantName,
        mitigations: frozenset[str],
        excluded: frozenset[type[Operation]] = frozenset(),
    ) -> None:
        self.scope = scope
        open_classes = [
            operation
            for operation, spec in REGISTRY.items()
            if spec.is_open(variant, mitigations)
            and operation not in excluded
            and (not issubclass(operation, Request) or operation in scope.requests)
        ]
        self.classes = sorted(open_classes, key=self._order)
        self._cache: dict[tuple[str, tuple[Handle, ...]], list[Operation]] = {}

    def _order(self, operation: type[Operation]) -> tuple[int, int, str]:
        """Requests first (so that runs read naturally), then lifecycle events, then attacks."""
        if issubclass(operation, Request):
            return (0, self.scope.requests.index(operation), "")
        return (2 if issubclass(operation, Attack) else 1, 0, operation.__name__)

    def operations(self, state: State) -> list[Operation]:
        """The operations from `state`; tenants authenticate with the authenticator in force."""
        auth = state.active.authenticator
        key = (auth, tuple(sorted(state.provider_keys)))
        if key not in self._cache:
            names = _Names(
                tuple(Tenant(auth, app) for app in self.scope.apps), Tenant(auth, self.scope.attacker), key[1]
            )
            self._cache[key] = [op for c in self.classes for op in self._instances(c, names, victims_only=False)]
        return self._cache[key]

    def _instances(self, operation: type[Operation], names: _Names, victims_only: bool) -> Iterator[Operation]:
        kinds = [(name, kind) for name, kind in field_kinds(operation) if name != "fresh_handle"]
        choices = [self._values(operation, name, kind, names, victims_only) for name, kind in kinds]
        for combination in itertools.product(*choices):
            yield operation(**{name: value for (name, _), value in zip(kinds, combination, strict=True)})

    def _values(
        self, operation: type[Operation], name: str, kind: FieldKind, names: _Names, victims_only: bool
    ) -> list[Any]:
        scope = self.scope
        match kind:
            case "request":
                inner = [c for c in carried_requests(operation) if c in scope.requests]
                victims = issubclass(operation, Attack) and operation.carries_victims_request
                return [r for c in inner for r in self._instances(c, names, victims_only=victims)]
            case "tenant":
                return [names.attacker] if name == "attacker" else list(names.tenants)
            case "opt_tenant":
                return [t for t in names.tenants if t != names.attacker] if victims_only else list(names.tenants)
            case "name":
                return [KeyName(scope.key_name)]
            case "app":
                return list(scope.apps)
            case "provider":
                return list(scope.providers)
            case "attrs":
                return [scope.attributes]
            case "bool":
                return [True]
            case "int":
                return [32]
            case "handle":
                return list(names.handles)
            case "signal":
                return list(Signal)
            case "auth":
                return list(AUTHENTICATORS)
        raise AssertionError(kind)


def explore(
    variant: VariantName,
    mitigations: frozenset[str],
    opened: frozenset[type[Operation]],
    targets: tuple[Invariant, ...] = INVARIANTS,
    depth: int = SEARCH_DEPTH,
    scope: SearchScope | None = None,
    excluded: frozenset[type[Operation]] = frozenset(),
) -> dict[str, Counterexample]:
    """A shortest run breaking each invariant of `targets` within `depth` steps, when there is one.

    `excluded` transitions are left out of the runs even when open (so that a run opened by one capability cannot
    borrow the harm of another the same mitigation opens).
    """
    scope = scope or SearchScope()
    alphabet = Alphabet(scope, variant, mitigations, excluded)
    initial = scope.initial_state(variant)
    parents: dict[tuple[State, bool], tuple[tuple[State, bool], Operation] | None] = {(initial, False): None}
    frontier = [(initial, False)]
    found: dict[str, list[Operation]] = {}
    for level in range(depth):
        next_frontier = []
        for node in frontier:
            state, tainted = node
            for operation in alphabet.operations(state):
                risky = tainted or type(operation) in opened
                if not risky and level == depth - 1:
                    continue
                try:
                    post, outcome = step(state, operation, mitigations)
                except NotEnabled:
                    continue
                if risky:
                    for invariant in targets:
                        if invariant.id not in found and _breaks(invariant, state, outcome, post):
                            found[invariant.id] = [*_path(parents, node), operation]
                child = (post, risky)
                if child not in parents:
                    parents[child] = (node, operation)
                    next_frontier.append(child)
            if len(found) == len(targets):
                break
        if len(found) == len(targets):
            break
        frontier = next_frontier
    return {
        invariant_id: Counterexample(
            invariant_id, variant, initial, mitigations, run(initial, path, mitigations, also=targets)
        )
        for invariant_id, path in found.items()
    }


def _breaks(invariant: Invariant, pre: State, outcome: Any, post: State) -> bool:
    if invariant.holds_in_state is not None and not invariant.holds_in_state(post):
        return True
    return invariant.holds_for_step is not None and not invariant.holds_for_step(pre, outcome, post)


def _path(
    parents: dict[tuple[State, bool], tuple[tuple[State, bool], Operation] | None], node: tuple[State, bool]
) -> list[Operation]:
    operations: list[Operation] = []
    link = parents[node]
    while link is not None:
        node, operation = link
        operations.append(operation)
        link = parents[node]
    return operations[::-1]
