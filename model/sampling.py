"""Random operations and random walks over a small, fixed scope of names.

A `Scope` lists the application names, key names and key IDs a walk may use, so that every state it reaches can be
encoded in the finite `model.symbolic.Universe` of the same scope. The agreement test between `model.step` and its
Z3 twin samples states and operations here; the walks open every capability (no mitigation in force) so that states
reachable only by attacks are sampled too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from model.codec import FieldKind, field_kinds
from model.nouns import (
    AUTHENTICATORS,
    CRYPTO_PROVIDERS,
    Handle,
    KeyAttributes,
    KeyKind,
    KeyName,
    Lifecycle,
    ProviderId,
    Signal,
    Tenant,
    Usage,
    VariantName,
)
from model.operations import (
    Attack,
    GenerateKey,
    ImportKey,
    KeyRequest,
    Operation,
    Request,
    Restart,
    carried_requests,
)
from model.state import State, initial_state
from model.step import NotEnabled, Outcome, step
from model.symbolic import Universe, finite_universe
from model.transitions import REGISTRY


@dataclass(frozen=True)
class Scope:
    """The names a random walk may use; `max_key_id` bounds the key IDs providers allocate."""

    apps: tuple[str, ...] = ("alice", "bob", "admin")
    names: tuple[str, ...] = ("k1", "k2")
    max_key_id: int = 8

    @property
    def universe(self) -> Universe:
        return finite_universe(self.apps, self.names, tuple(range(1, self.max_key_id + 1)))

    def initial_state(self, variant: VariantName) -> State:
        return initial_state(variant, admins=frozenset({self.apps[-1]}))


class Sampler:
    """Draws operations whose every value lies in `scope`."""

    def __init__(self, scope: Scope, rng: random.Random) -> None:
        self.scope = scope
        self.rng = rng

    def tenant(self) -> Tenant:
        auth = self.rng.choice(AUTHENTICATORS) if self.rng.random() < 0.2 else None
        return Tenant(auth or "direct", self.rng.choice(self.scope.apps))

    def handle(self, state: State) -> Handle:
        if state.provider_keys and self.rng.random() < 0.8:
            return self.rng.choice(sorted(state.provider_keys))
        return Handle(self.rng.choice(list(ProviderId)), self.rng.randint(1, self.scope.max_key_id))

    def value(self, kind: FieldKind, state: State) -> Any:
        rng = self.rng
        match kind:
            case "tenant":
                return self.tenant()
            case "opt_tenant":
                return None if rng.random() < 0.1 else self.tenant()
            case "name":
                return KeyName(rng.choice(self.scope.names))
            case "app":
                return rng.choice(self.scope.apps)
            case "provider":
                return rng.choice(CRYPTO_PROVIDERS) if rng.random() < 0.9 else ProviderId.CORE
            case "attrs":
                return KeyAttributes(rng.choice(list(KeyKind)), frozenset(u for u in Usage if rng.random() < 0.7))
            case "bool":
                return rng.random() < 0.8
            case "int":
                return rng.choice((32, 1 << 21))
            case "handle":
                return self.handle(state)
            case "signal":
                return rng.choice(list(Signal))
            case "auth":
                return rng.choice(AUTHENTICATORS)
        raise AssertionError(kind)

    def operation(self, state: State, operation_class: type[Operation] | None = None) -> Operation:
        """A random operation (of `operation_class`, else of any class)."""
        chosen = operation_class or self._class(state)
        values: dict[str, Any] = {}
        for name, kind in field_kinds(chosen):
            if name == "fresh_handle":
                continue
            if kind == "request":
                values[name] = self.operation(state, self.rng.choice(carried_requests(chosen)))
            else:
                values[name] = self.value(kind, state)
        operation = chosen(**values)
        if isinstance(operation, KeyRequest) and state.mappings and self.rng.random() < 0.6:
            return self._aimed(operation, state)
        if isinstance(operation, Request) and operation.caller is not None and self.rng.random() < 0.7:
            return _with_configured_auth(operation, state)
        return operation

    def _class(self, state: State) -> type[Operation]:
        """A class drawn so that walks create keys, use them, attack them and restart the service."""
        if state.lifecycle is not Lifecycle.RUNNING and self.rng.random() < 0.8:
            return Restart
        classes = sorted(REGISTRY, key=lambda c: c.__name__)
        families: list[list[type[Operation]]] = [
            [GenerateKey, ImportKey],
            [c for c in classes if issubclass(c, Request) and c not in (GenerateKey, ImportKey)],
            [c for c in classes if not issubclass(c, (Request, Attack))],
            [c for c in classes if issubclass(c, Attack)],
        ]
        family = self.rng.choices(families, weights=(25, 35, 10, 30))[0]
        return self.rng.choice(family)

    def _aimed(self, request: KeyRequest, state: State) -> KeyRequest:
        """`request` redirected at an existing key (random requests rarely name one)."""
        identity, entry = self.rng.choice(sorted(state.mappings.items(), key=lambda item: str(item[0])))
        return replace(request, caller=identity.tenant, provider=entry.provider, key_name=identity.key_name)


def _with_configured_auth(request: Request, state: State) -> Request:
    """Most requests use the configured authenticator, so that they get past authentication."""
    assert request.caller is not None
    return replace(request, caller=Tenant(state.active.authenticator, request.caller.name))


def random_walk(
    scope: Scope, variant: VariantName, rng: random.Random, length: int, mitigations: frozenset[str] = frozenset()
) -> list[tuple[State, Operation, tuple[State, Outcome] | None]]:
    """`length` random steps from the initial state: (state, operation, result or None when not enabled).

    Keep `length` below `scope.max_key_id` so that every allocated key ID lies in the scope.
    """
    sampler = Sampler(scope, rng)
    state = scope.initial_state(variant)
    walk: list[tuple[State, Operation, tuple[State, Outcome] | None]] = []
    for _ in range(length):
        operation = sampler.operation(state)
        try:
            result: tuple[State, Outcome] | None = step(state, operation, mitigations)
        except NotEnabled:
            result = None
        walk.append((state, operation, result))
        if result is not None:
            state = result[0]
    return walk
