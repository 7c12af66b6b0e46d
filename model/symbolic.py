"""The Z3 twin of `model.step`: every transition as a relation over arrays and algebraic datatypes.

The state's stores become arrays: the key-mapping store (``mapped``, ``key_provider``, ``key_handle`` indexed by
tenant and key name), the providers' key stores (``stored``, ``attrs`` and the ghost ``owner``/``origin`` indexed by
handle), the configurations, the tokens and the trust bundle. A `Universe` fixes the sorts of application names,
key names and local key IDs: uninterpreted for the unbounded proofs (any number of tenants and keys), small
enumerations for bounded model checking and for the agreement test that holds this module equal to `model.step`.

Each encoder mirrors one concrete transition check by check (same order, same statuses); `SymStep` carries its
precondition, post-state, status and effects. Allocation of a fresh provider key ID is a parameter
(``fresh_handle``) constrained to a never-allocated ID (``allocated`` mirrors the concrete counter: the IDs below
`State.next_key_id`), where `model.step` takes the next counter value.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cache
from typing import Any, cast

import z3

from model.nouns import (
    ASYMMETRIC_KINDS,
    AUTHENTICATORS,
    CRYPTO_PROVIDERS,
    HARDWARE_PROVIDERS,
    IMPLIED_USAGE,
    PRIVATE_KINDS,
    PUBLIC_KINDS,
    VARIANT_AUTHENTICATOR,
    KeyKind,
    Lifecycle,
    ProviderId,
    Signal,
    Usage,
    VariantName,
)
from model.operations import (
    AddConfiguredAdmin,
    AttestKey,
    ClaimIdentity,
    ConfigureRogueProvider,
    Crash,
    CrashAfterMappingRemoval,
    CrashAfterProviderWrite,
    DeleteClient,
    DeleteMapping,
    DestroyKey,
    DropConfiguredProvider,
    DuplicateSpiffeId,
    EavesdropResponse,
    ExportKey,
    ExportPublicKey,
    GenerateKey,
    GenerateRandom,
    GuessToken,
    HardwareExtract,
    HardwareTamper,
    HardwareUse,
    HashCompare,
    HashCompute,
    ImportKey,
    KeyUse,
    ListAuthenticators,
    ListClients,
    ListKeys,
    ListOpcodes,
    ListProviders,
    MisdirectClient,
    Operation,
    Ping,
    PlantEndpoint,
    PlugRogueModule,
    PrepareKeyAttestation,
    PresentCredential,
    ProbeStatus,
    Reload,
    Request,
    Restart,
    ReuseUid,
    SendSignal,
    SetConfiguredAuthenticator,
    Shutdown,
    SniffRequest,
    SniffValidationRequest,
    SpoofSpiffeValidation,
    SpoofTrustBundle,
    StealToken,
    TamperInTransit,
    TamperMappingRead,
    TamperTrustBundle,
    TamperValidationResponse,
    UseUnixAccount,
    WriteMapping,
)
from model.parsec import (
    BUFFER_SIZE_LIMIT,
    CREATE_CHECK_STATUS,
    CREATE_CHECKS,
    GENERATABLE_KINDS,
    IMPORTABLE_KINDS,
    KEY_USE_RULES,
    PROVIDER_OPCODES,
    CreateCheck,
    Status,
)
from model.tables import ArrayTable, FiniteTable, Table, finite_table, grid

Expr = Any
"""A Z3 expression (z3py is untyped)."""

NO_RESPONSE = "NoResponse"
"""The Status-sort value standing for `Outcome.status is None`."""


# ------------------------------------------------------------------------------------------------------------ sorts
class _Enums:
    """The sorts that do not depend on a universe: one Z3 declaration each, for the whole process."""

    def __init__(self) -> None:
        self.Auth, auth_values = z3.EnumSort("Auth", list(AUTHENTICATORS))
        self.auth: dict[str, Expr] = dict(zip(AUTHENTICATORS, auth_values, strict=True))
        self.Provider, provider_values = z3.EnumSort("Provider", [p.name for p in ProviderId])
        self.provider: dict[ProviderId, Expr] = dict(zip(ProviderId, provider_values, strict=True))
        self.Kind, kind_values = z3.EnumSort("Kind", [k.value for k in KeyKind])
        self.kind: dict[KeyKind, Expr] = dict(zip(KeyKind, kind_values, strict=True))
        self.Lifecycle, lifecycle_values = z3.EnumSort("Lifecycle", [lc.value for lc in Lifecycle])
        self.lifecycle: dict[Lifecycle, Expr] = dict(zip(Lifecycle, lifecycle_values, strict=True))
        self.Signal, signal_values = z3.EnumSort("Signal", [s.value for s in Signal])
        self.signal: dict[Signal, Expr] = dict(zip(Signal, signal_values, strict=True))
        status_names = [NO_RESPONSE, *(s.value for s in Status)]
        self.Status, status_values = z3.EnumSort("Status", status_names)
        self.status: dict[str, Expr] = dict(zip(status_names, status_values, strict=True))
        attrs = z3.Datatype("Attrs")
        attrs.declare("attrs", ("kind", self.Kind), *((f"may_{u.value}", z3.BoolSort()) for u in Usage))
        self.Attrs = attrs.create()

    def may(self, attributes: Expr, usage: Usage) -> Expr:
        """The usage flag `usage` of a KeyAttributes value."""
        return getattr(self.Attrs, f"may_{usage.value}")(attributes)

    def normalised(self, attributes: Expr) -> Expr:
        """`attributes` with the usage flags Parsec implies added (`model.nouns.normalise_usage`)."""
        implied_by = {then: flag for flag, then in IMPLIED_USAGE.items()}
        flags = [
            z3.Or(self.may(attributes, u), self.may(attributes, implied_by[u]))
            if u in implied_by
            else self.may(attributes, u)
            for u in Usage
        ]
        return self.Attrs.constructor(0)(self.Attrs.kind(attributes), *flags)

    def kind_in(self, kind: Expr, kinds: Iterable[KeyKind]) -> Expr:
        return z3.Or([kind == self.kind[k] for k in kinds])

    def provider_in(self, provider: Expr, providers: Iterable[ProviderId]) -> Expr:
        return z3.Or([provider == self.provider[p] for p in providers])

    def supports(self, provider: Expr, opcode: str) -> Expr:
        """Whether the provider implements `opcode` (model.parsec.PROVIDER_OPCODES)."""
        return self.provider_in(provider, [p for p, opcodes in PROVIDER_OPCODES.items() if opcode in opcodes])


ENUMS = _Enums()
E = ENUMS


class Universe:
    """The sorts of application names, key names and local key IDs, with the datatypes built on them.

    `finite` universes list their values (``apps``, ``names``, ``local_ids``) so that models can be read back as
    concrete operations; the unbounded universe leaves the sorts uninterpreted.
    """

    def __init__(
        self,
        label: str,
        apps: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
        local_ids: Sequence[int] | None = None,
    ) -> None:
        self.label = label
        self._domains: dict[int, list[Expr]] = {}
        self.app_values: dict[str, Expr] = {}
        self.name_values: dict[str, Expr] = {}
        self.local_values: dict[int, Expr] = {}
        if apps is None or names is None or local_ids is None:
            self.App = z3.DeclareSort(f"App{label}")
            self.Name = z3.DeclareSort(f"Name{label}")
            self.Local = z3.DeclareSort(f"Local{label}")
        else:
            self.App, app_consts = z3.EnumSort(f"App{label}", [f"{a}{label}" for a in apps])
            self.Name, name_consts = z3.EnumSort(f"Name{label}", [f"{n}{label}" for n in names])
            self.Local, local_consts = z3.EnumSort(f"Local{label}", [f"id{i}{label}" for i in local_ids])
            self.app_values = dict(zip(apps, app_consts, strict=True))
            self.name_values = dict(zip(names, name_consts, strict=True))
            self.local_values = dict(zip(local_ids, local_consts, strict=True))
        tenant = z3.Datatype(f"Tenant{label}")
        tenant.declare(f"tenant{label}", ("auth", E.Auth), ("app", self.App))
        self.Tenant = tenant.create()
        handle = z3.Datatype(f"Handle{label}")
        handle.declare(f"handle{label}", ("provider", E.Provider), ("local", self.Local))
        self.Handle = handle.create()

    @property
    def is_finite(self) -> bool:
        return bool(self.app_values)

    def domain(self, sort: Any) -> list[Expr]:
        """Every value of `sort` in a finite universe."""
        key = sort.get_id()
        if key not in self._domains:
            self._domains[key] = self._enumerate(sort)
        return self._domains[key]

    def _enumerate(self, sort: Any) -> list[Expr]:
        if sort == self.Tenant:
            return [self.tenant(a, app) for a in E.auth.values() for app in self.app_values.values()]
        if sort == self.Handle:
            return [self.handle(p, local) for p in E.provider.values() for local in self.local_values.values()]
        finite: dict[Any, dict[Any, Expr]] = {
            self.App: self.app_values,
            self.Name: self.name_values,
            self.Local: self.local_values,
        }
        if sort == E.Provider:
            return list(E.provider.values())
        return list(finite[sort].values())

    def forall(self, sorts: Sequence[Any], body: Callable[..., Expr]) -> Expr:
        """∀ over `sorts`; expanded into a conjunction in a finite universe (quantifier-free for the solver)."""
        if self.is_finite:
            return z3.And([body(*values) for values in itertools.product(*(self.domain(s) for s in sorts))])
        variables = [z3.FreshConst(sort, "q") for sort in sorts]
        return z3.ForAll(variables, body(*variables))

    def table(self, sorts: Sequence[Any], body: Callable[..., Expr]) -> Table:
        """The table mapping each index to `body(index)`."""
        if self.is_finite:
            return finite_table([self.domain(sort) for sort in sorts], body)
        variables = [z3.FreshConst(sort, "q") for sort in sorts]
        return ArrayTable(z3.Lambda(variables, body(*variables)))

    def constant_table(self, sorts: Sequence[Any], value: Expr) -> Table:
        """The table mapping every index to `value`."""
        if self.is_finite:
            return finite_table([self.domain(sort) for sort in sorts], lambda *_: value)
        if len(sorts) == 1:
            return ArrayTable(z3.K(sorts[0], value))
        return self.table(sorts, lambda *_: value)

    def fresh_table(self, name: str, sorts: Sequence[Any], value_sort: Any) -> Table:
        """A table of unconstrained values."""
        if self.is_finite:
            points = grid([self.domain(sort) for sort in sorts])
            return FiniteTable(points, [z3.Const(f"{name}[{i}]", value_sort) for i in range(len(points.points))])
        return ArrayTable(z3.Array(name, *sorts, value_sort))

    def exists(self, sorts: Sequence[Any], body: Callable[..., Expr]) -> Expr:
        """∃ over `sorts`; expanded into a disjunction in a finite universe."""
        if self.is_finite:
            return z3.Or([body(*values) for values in itertools.product(*(self.domain(s) for s in sorts))])
        variables = [z3.FreshConst(sort, "q") for sort in sorts]
        return z3.Exists(variables, body(*variables))

    def tenant(self, auth: Expr, app: Expr) -> Expr:
        return self.Tenant.constructor(0)(auth, app)

    def auth_of(self, tenant: Expr) -> Expr:
        return self.Tenant.accessor(0, 0)(tenant)

    def app_of(self, tenant: Expr) -> Expr:
        return self.Tenant.accessor(0, 1)(tenant)

    def handle(self, provider: Expr, local: Expr) -> Expr:
        return self.Handle.constructor(0)(provider, local)

    def provider_of(self, handle: Expr) -> Expr:
        return self.Handle.accessor(0, 0)(handle)

    def local_of(self, handle: Expr) -> Expr:
        return self.Handle.accessor(0, 1)(handle)


@cache
def unbounded_universe() -> Universe:
    """Uninterpreted application names, key names and key IDs: proofs hold for any number of each."""
    return Universe("")


@cache
def finite_universe(apps: tuple[str, ...], names: tuple[str, ...], local_ids: tuple[int, ...]) -> Universe:
    """A small scope for bounded model checking and for the agreement test."""
    return Universe(f"_{len(apps)}_{len(names)}_{len(local_ids)}", apps, names, local_ids)


# ------------------------------------------------------------------------------------------------------------ state
@dataclass(frozen=True)
class Opt:
    """An optional value: `value` is meaningful when `present` holds (a Tenant | None, a recipient)."""

    present: Expr
    value: Expr


def _ite(condition: Expr, then: Expr, otherwise: Expr) -> Expr:
    """If-then-else that keeps a value both branches share as it is."""
    return then if then.eq(otherwise) else z3.If(condition, then, otherwise)


@dataclass(frozen=True)
class SymConfig:
    authenticator: Expr
    admins: Table
    providers: Table
    rogue: Table

    def ite(self, condition: Expr, other: SymConfig) -> SymConfig:
        return SymConfig(
            _ite(condition, self.authenticator, other.authenticator),
            self.admins.ite(condition, other.admins),
            self.providers.ite(condition, other.providers),
            self.rogue.ite(condition, other.rogue),
        )

    def equals(self, other: SymConfig) -> Expr:
        return z3.And(
            self.authenticator == other.authenticator,
            self.admins.equals(other.admins),
            self.providers.equals(other.providers),
            self.rogue.equals(other.rogue),
        )


@dataclass(frozen=True)
class SymState:
    """The symbolic counterpart of `model.state.State`; `allocated` marks the key IDs the counter has handed out."""

    lifecycle: Expr
    mapped: Table
    key_provider: Table
    key_handle: Table
    stored: Table
    allocated: Table
    attrs: Table
    owner: Table
    origin: Table
    active: SymConfig
    file: SymConfig
    intended: SymConfig
    tokens: Table
    forgers: Table

    def ite(self, condition: Expr, other: SymState) -> SymState:
        if self is other:
            return self
        values: dict[str, Any] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            values[f.name] = _ite(condition, mine, theirs) if f.name == "lifecycle" else mine.ite(condition, theirs)
        return SymState(**values)

    def equivalent(self, other: SymState, u: Universe) -> Expr:
        """Equality of everything observable: stale values behind absent mappings and keys are ignored."""

        def mapping_fields(t: Expr, n: Expr) -> Expr:
            same = z3.And(
                self.key_provider[t, n] == other.key_provider[t, n], self.key_handle[t, n] == other.key_handle[t, n]
            )
            return z3.Implies(self.mapped[t, n], same)

        def key_fields(h: Expr) -> Expr:
            same = z3.And(
                self.attrs[h] == other.attrs[h], self.owner[h] == other.owner[h], self.origin[h] == other.origin[h]
            )
            return z3.Implies(self.stored[h], same)

        return z3.And(
            self.lifecycle == other.lifecycle,
            self.mapped.equals(other.mapped),
            u.forall([u.Tenant, u.Name], mapping_fields),
            self.stored.equals(other.stored),
            self.allocated.equals(other.allocated),
            u.forall([u.Handle], key_fields),
            self.active.equals(other.active),
            self.file.equals(other.file),
            self.intended.equals(other.intended),
            self.tokens.equals(other.tokens),
            self.forgers.equals(other.forgers),
        )


def fresh_config(u: Universe, prefix: str) -> SymConfig:
    return SymConfig(
        z3.Const(f"{prefix}.authenticator", E.Auth),
        u.fresh_table(f"{prefix}.admins", [u.App], z3.BoolSort()),
        u.fresh_table(f"{prefix}.providers", [E.Provider], z3.BoolSort()),
        u.fresh_table(f"{prefix}.rogue", [E.Provider], z3.BoolSort()),
    )


def fresh_state(u: Universe, prefix: str) -> SymState:
    """A state of unconstrained constants."""
    return SymState(
        lifecycle=z3.Const(f"{prefix}.lifecycle", E.Lifecycle),
        mapped=u.fresh_table(f"{prefix}.mapped", [u.Tenant, u.Name], z3.BoolSort()),
        key_provider=u.fresh_table(f"{prefix}.key_provider", [u.Tenant, u.Name], E.Provider),
        key_handle=u.fresh_table(f"{prefix}.key_handle", [u.Tenant, u.Name], u.Handle),
        stored=u.fresh_table(f"{prefix}.stored", [u.Handle], z3.BoolSort()),
        allocated=u.fresh_table(f"{prefix}.allocated", [u.Local], z3.BoolSort()),
        attrs=u.fresh_table(f"{prefix}.attrs", [u.Handle], E.Attrs),
        owner=u.fresh_table(f"{prefix}.owner", [u.Handle], u.Tenant),
        origin=u.fresh_table(f"{prefix}.origin", [u.Handle], u.Name),
        active=fresh_config(u, f"{prefix}.active"),
        file=fresh_config(u, f"{prefix}.file"),
        intended=fresh_config(u, f"{prefix}.intended"),
        tokens=u.fresh_table(f"{prefix}.tokens", [u.Tenant, u.Tenant], z3.BoolSort()),
        forgers=u.fresh_table(f"{prefix}.forgers", [u.Tenant], z3.BoolSort()),
    )


def initial_sym_state(u: Universe, variant: VariantName, prefix: str = "init") -> SymState:
    """`model.state.initial_state` for every admin set and provider list: no keys, intended configuration."""
    arbitrary = fresh_state(u, prefix)
    nowhere = u.constant_table([E.Provider], z3.BoolVal(False))
    config = SymConfig(
        E.auth[VARIANT_AUTHENTICATOR[variant]],
        arbitrary.active.admins,
        arbitrary.active.providers.store(E.provider[ProviderId.CORE], z3.BoolVal(False)),
        nowhere,
    )
    return replace(
        arbitrary,
        lifecycle=E.lifecycle[Lifecycle.RUNNING],
        mapped=u.constant_table([u.Tenant, u.Name], z3.BoolVal(False)),
        stored=u.constant_table([u.Handle], z3.BoolVal(False)),
        allocated=u.constant_table([u.Local], z3.BoolVal(False)),
        active=config,
        file=config,
        intended=config,
        tokens=u.table([u.Tenant, u.Tenant], lambda p, t: p == t),
        forgers=u.constant_table([u.Tenant], z3.BoolVal(False)),
    )


# ---------------------------------------------------------------------------------------------------------- effects
@dataclass(frozen=True)
class SymRelease:
    """A release slot: when `condition` holds, private material of `handle` goes to `recipient`."""

    condition: Expr
    handle: Expr
    recipient: Opt
    via_export_key: bool


@dataclass(frozen=True)
class SymEffects:
    """`model.step.Effects`, symbolically; `marks` maps declared observable effects to when they happen (a mark
    absent from the mapping never happens)."""

    actor: Opt
    namespace: Opt
    touched: Table
    releases: tuple[SymRelease, ...]
    admin_op: Expr
    deleted_client: Opt
    reconfigured: Expr
    marks: Mapping[str, Expr] = field(default_factory=dict)

    def mark(self, name: str) -> Expr:
        """When the observable effect `name` happens."""
        return self.marks.get(name, z3.BoolVal(False))


def _absent(u: Universe) -> Opt:
    return Opt(z3.BoolVal(False), z3.Const("absent", u.Tenant))


def _nothing_touched(u: Universe) -> Table:
    return u.constant_table([u.Handle], z3.BoolVal(False))


def no_effects(u: Universe, actor: Opt | None = None) -> SymEffects:
    return SymEffects(
        actor or _absent(u), _absent(u), _nothing_touched(u), (), z3.BoolVal(False), _absent(u), z3.BoolVal(False)
    )


def _only(u: Universe, handle: Expr) -> Table:
    return _nothing_touched(u).store(handle, z3.BoolVal(True))


def _gated(u: Universe, condition: Expr, effects: SymEffects) -> SymEffects:
    """Effects that happen only when `condition` holds (the actor stays as it is)."""
    return SymEffects(
        actor=effects.actor,
        namespace=Opt(z3.And(condition, effects.namespace.present), effects.namespace.value),
        touched=effects.touched.ite(condition, _nothing_touched(u)),
        releases=tuple(replace(r, condition=z3.And(condition, r.condition)) for r in effects.releases),
        admin_op=z3.And(condition, effects.admin_op),
        deleted_client=Opt(z3.And(condition, effects.deleted_client.present), effects.deleted_client.value),
        reconfigured=z3.And(condition, effects.reconfigured),
        marks={name: z3.And(condition, when) for name, when in effects.marks.items()},
    )


@dataclass(frozen=True)
class SymStep:
    """A transition applied symbolically: precondition, post-state, answered status, effects."""

    guard: Expr
    post: SymState
    status: Expr
    effects: SymEffects


# ------------------------------------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Params:
    """The symbolic fields of one operation (nested `Params` for a carried request)."""

    operation: type[Operation]
    values: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


EXTRA_PARAMS: dict[type[Operation], tuple[str, ...]] = {GenerateKey: ("fresh_handle",), ImportKey: ("fresh_handle",)}
"""Symbolic choices a concrete transition makes itself: the key ID a key creation allocates."""


@dataclass(frozen=True)
class Route:
    """`model.step.Route`, symbolically."""

    actor: Opt
    recipients: tuple[Opt, ...]
    authenticated: Expr
    handle_override: Expr | None = None


def _honest_route(request: Params) -> Route:
    caller: Opt = request["caller"]
    return Route(caller, (caller,), z3.BoolVal(True))


def first_failure(checks: Sequence[tuple[Expr, Status]], otherwise: Expr) -> Expr:
    """The status of the first check that fails, in order, else `otherwise`."""
    result = otherwise
    for failed, status in reversed(checks):
        result = z3.If(failed, E.status[status.value], result)
    return result


def _any_failed(checks: Sequence[tuple[Expr, Status]]) -> Expr:
    return z3.Or([failed for failed, _ in checks])


# --------------------------------------------------------------------------------------------------------- requests
RequestEncoder = Callable[[Universe, SymState, Params, Route], SymStep]
_REQUEST_ENCODERS: dict[type[Request], RequestEncoder] = {}


def _encodes(*classes: type[Request]) -> Callable[[RequestEncoder], RequestEncoder]:
    def register(encoder: RequestEncoder) -> RequestEncoder:
        for request_class in classes:
            _REQUEST_ENCODERS[request_class] = encoder
        return encoder

    return register


def serve(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    """`model.step.serve`: no answer when not running, then authentication, then the request's handler."""
    caller: Opt = request["caller"]
    running = s.lifecycle == E.lifecycle[Lifecycle.RUNNING]
    checks = [
        (
            z3.And(caller.present, u.auth_of(caller.value) != s.active.authenticator),
            Status.AUTHENTICATOR_NOT_REGISTERED,
        ),
        (z3.And(caller.present, z3.Not(route.authenticated)), Status.AUTHENTICATION_ERROR),
    ]
    handled = _REQUEST_ENCODERS[cast(type[Request], request.operation)](u, s, request, route)
    proceeds = z3.And(running, z3.Not(_any_failed(checks)))
    status = z3.If(running, first_failure(checks, handled.status), E.status[NO_RESPONSE])
    effects = _gated(u, proceeds, handled.effects)
    actor = Opt(z3.And(running, route.actor.present), route.actor.value)
    guard = z3.Implies(proceeds, handled.guard)
    return SymStep(guard, handled.post.ite(proceeds, s), status, replace(effects, actor=actor))


def _provider_checks(s: SymState, provider: Expr) -> list[tuple[Expr, Status]]:
    core = E.provider[ProviderId.CORE]
    return [
        (z3.And(provider != core, z3.Not(s.active.providers[provider])), Status.PROVIDER_NOT_REGISTERED),
        (provider == core, Status.PSA_ERROR_NOT_SUPPORTED),
    ]


def _key_request_checks(s: SymState, request: Params) -> list[tuple[Expr, Status]]:
    provider = request["provider"]
    return [
        *_provider_checks(s, provider),
        (z3.Not(request["caller"].present), Status.NOT_AUTHENTICATED),
        (z3.Not(E.supports(provider, request.operation.opcode)), Status.PSA_ERROR_NOT_SUPPORTED),  # type: ignore[attr-defined]
    ]


def _resolve(u: Universe, s: SymState, request: Params, route: Route) -> tuple[Expr, Expr]:
    """(found, handle): `model.step._resolve`."""
    tenant, name, provider = request["caller"].value, request["key_name"], request["provider"]
    if route.handle_override is None:
        entry_ok = z3.And(s.mapped[tenant, name], s.key_provider[tenant, name] == provider)
        handle = s.key_handle[tenant, name]
    else:
        entry_ok, handle = z3.BoolVal(True), route.handle_override
    return z3.And(entry_ok, u.provider_of(handle) == provider, s.stored[handle]), handle


def _reply(u: Universe, s: SymState, status: Expr, route: Route, **effects: Any) -> SymStep:
    base = no_effects(u, route.actor)
    return SymStep(z3.BoolVal(True), s, status, replace(base, **effects))


def _private(kind: Expr) -> Expr:
    return E.kind_in(kind, PRIVATE_KINDS)


@_encodes(GenerateKey, ImportKey)
def _create(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    tenant, name, provider = request["caller"].value, request["key_name"], request["provider"]
    attributes, fresh = request["attributes"], request["fresh_handle"]
    kind = E.Attrs.kind(attributes)
    opcode: str = request.operation.opcode  # type: ignore[attr-defined]
    kinds = GENERATABLE_KINDS if request.operation is GenerateKey else IMPORTABLE_KINDS
    supported = z3.Or([z3.And(provider == E.provider[p], E.kind_in(kind, ks)) for p, ks in kinds.items()])
    fails = {
        CreateCheck.NAME_FREE: s.mapped[tenant, name],
        CreateCheck.NOT_PUBLIC: E.kind_in(kind, PUBLIC_KINDS),
        CreateCheck.KIND_SUPPORTED: z3.Not(supported),
    }
    early = _key_request_checks(s, request)
    orders = [
        (p, [(fails[check], CREATE_CHECK_STATUS[check]) for check in checks])
        for p, checks in CREATE_CHECKS[opcode].items()
    ]
    late_failed = z3.Or([z3.And(provider == E.provider[p], _any_failed(late)) for p, late in orders])
    late_status = first_failure(orders[0][1], E.status[Status.SUCCESS.value])
    for p, late in orders[1:]:
        late_status = z3.If(provider == E.provider[p], first_failure(late, E.status[Status.SUCCESS.value]), late_status)
    succeeds = z3.And(z3.Not(_any_failed(early)), z3.Not(late_failed))
    created = replace(
        s,
        stored=s.stored.store(fresh, z3.BoolVal(True)),
        allocated=s.allocated.store(u.local_of(fresh), z3.BoolVal(True)),
        attrs=s.attrs.store(fresh, E.normalised(attributes)),
        owner=s.owner.store(fresh, tenant),
        origin=s.origin.store(fresh, name),
        mapped=s.mapped.store((tenant, name), z3.BoolVal(True)),
        key_provider=s.key_provider.store((tenant, name), provider),
        key_handle=s.key_handle.store((tenant, name), fresh),
    )
    leaked = z3.And(succeeds, s.active.rogue[provider], _private(kind))
    effects = replace(
        no_effects(u, route.actor),
        namespace=Opt(z3.Not(_any_failed(early)), tenant),
        releases=(SymRelease(leaked, fresh, _absent(u), False),),
    )
    guard = z3.Implies(succeeds, z3.And(u.provider_of(fresh) == provider, z3.Not(s.allocated[u.local_of(fresh)])))
    status = first_failure(early, late_status)
    return SymStep(guard, created.ite(succeeds, s), status, effects)


@_encodes(DestroyKey)
def _destroy(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    tenant, name, provider = request["caller"].value, request["key_name"], request["provider"]
    early = _key_request_checks(s, request)
    handle = s.key_handle[tenant, name]
    entry_ok = z3.And(s.mapped[tenant, name], s.key_provider[tenant, name] == provider)
    key_ok = z3.And(u.provider_of(handle) == provider, s.stored[handle])
    reached = z3.Not(_any_failed(early))
    checks = [
        *early,
        (z3.Not(entry_ok), Status.PSA_ERROR_DOES_NOT_EXIST),
        (z3.Not(key_ok), Status.PSA_ERROR_DOES_NOT_EXIST),
    ]
    succeeds = z3.Not(_any_failed(checks))
    unmapped = replace(s, mapped=s.mapped.store((tenant, name), z3.BoolVal(False)))
    destroyed = replace(unmapped, stored=s.stored.store(handle, z3.BoolVal(False)))
    post = destroyed.ite(succeeds, unmapped.ite(z3.And(reached, entry_ok), s))
    effects = replace(
        no_effects(u, route.actor),
        namespace=Opt(reached, tenant),
        touched=_only(u, handle).ite(succeeds, _nothing_touched(u)),
    )
    return SymStep(z3.BoolVal(True), post, first_failure(checks, E.status[Status.SUCCESS.value]), effects)


def _reading(
    u: Universe, s: SymState, request: Params, route: Route, key_checks: Callable[[Expr], list[tuple[Expr, Status]]]
) -> tuple[Expr, SymEffects, Expr, Expr]:
    """The common shape of reading requests: (status, effects, handle, succeeds)."""
    early = _key_request_checks(s, request)
    found, handle = _resolve(u, s, request, route)
    checks = [*early, (z3.Not(found), Status.PSA_ERROR_DOES_NOT_EXIST), *key_checks(s.attrs[handle])]
    reached = z3.Not(_any_failed(early))
    effects = replace(
        no_effects(u, route.actor),
        namespace=Opt(reached, request["caller"].value),
        touched=_only(u, handle).ite(z3.And(reached, found), _nothing_touched(u)),
    )
    return first_failure(checks, E.status[Status.SUCCESS.value]), effects, handle, z3.Not(_any_failed(checks))


@_encodes(*KeyUse.__subclasses__())
def _use(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    operation: Any = request.operation
    usage, kinds = KEY_USE_RULES[operation.opcode]

    def key_checks(attributes: Expr) -> list[tuple[Expr, Status]]:
        permitted = z3.And(E.may(attributes, usage), E.kind_in(E.Attrs.kind(attributes), kinds))
        checks = [(z3.Not(permitted), Status.PSA_ERROR_NOT_PERMITTED)]
        if operation.forgery_status is not None:
            checks.append((z3.Not(request["authentic"]), operation.forgery_status))
        return checks

    status, effects, _, _ = _reading(u, s, request, route, key_checks)
    return SymStep(z3.BoolVal(True), s, status, effects)


@_encodes(ExportKey)
def _export(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    def key_checks(attributes: Expr) -> list[tuple[Expr, Status]]:
        locked = z3.And(_private(E.Attrs.kind(attributes)), z3.Not(E.may(attributes, Usage.EXPORT)))
        return [(locked, Status.PSA_ERROR_NOT_PERMITTED)]

    status, effects, handle, succeeds = _reading(u, s, request, route, key_checks)
    private = _private(E.Attrs.kind(s.attrs[handle]))
    releases = tuple(
        SymRelease(z3.And(succeeds, private, recipient.present), handle, recipient, True)
        for recipient in route.recipients
    )
    return SymStep(z3.BoolVal(True), s, status, replace(effects, releases=releases))


@_encodes(ExportPublicKey)
def _export_public(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    def key_checks(attributes: Expr) -> list[tuple[Expr, Status]]:
        asymmetric = E.kind_in(E.Attrs.kind(attributes), ASYMMETRIC_KINDS)
        return [(z3.Not(asymmetric), Status.PSA_ERROR_INVALID_ARGUMENT)]

    status, effects, _, _ = _reading(u, s, request, route, key_checks)
    return SymStep(z3.BoolVal(True), s, status, effects)


@_encodes(PrepareKeyAttestation, AttestKey)
def _attest(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    """`model.step._attest`: the attesting key is checked with the provider's checks, before the key is read."""
    attests = request.operation is AttestKey
    default_key = request["default_attesting_key"]
    early = [*_key_request_checks(s, request), (z3.Not(default_key), Status.PSA_ERROR_NOT_SUPPORTED)]
    found, handle = _resolve(u, s, request, route)
    checks = [*early, (z3.Not(found), Status.PSA_ERROR_DOES_NOT_EXIST)]
    if attests:
        checks += [
            (z3.Not(_private(E.Attrs.kind(s.attrs[handle]))), Status.PSA_ERROR_INVALID_ARGUMENT),
            (z3.Not(request["authentic"]), AttestKey.forgery_status),
        ]
    reached = z3.Not(_any_failed(early))
    effects = replace(
        no_effects(u, route.actor),
        namespace=Opt(reached, request["caller"].value),
        touched=_only(u, handle).ite(z3.And(reached, found), _nothing_touched(u)),
    )
    return SymStep(z3.BoolVal(True), s, first_failure(checks, E.status[Status.SUCCESS.value]), effects)


@_encodes(ListKeys)
def _list_keys(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    caller: Opt = request["caller"]
    status = first_failure([(z3.Not(caller.present), Status.NOT_AUTHENTICATED)], E.status[Status.SUCCESS.value])
    return _reply(u, s, status, route, namespace=caller)


def _admin_checks(s: SymState, u: Universe, caller: Opt) -> list[tuple[Expr, Status]]:
    return [
        (z3.Not(caller.present), Status.NOT_AUTHENTICATED),
        (z3.Not(s.active.admins[u.app_of(caller.value)]), Status.ADMIN_OPERATION),
    ]


@_encodes(ListClients)
def _list_clients(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    checks = _admin_checks(s, u, request["caller"])
    status = first_failure(checks, E.status[Status.SUCCESS.value])
    return _reply(u, s, status, route, admin_op=z3.Not(_any_failed(checks)))


@_encodes(DeleteClient)
def _delete_client(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    caller: Opt = request["caller"]
    checks = _admin_checks(s, u, caller)
    succeeds = z3.Not(_any_failed(checks))
    target = u.tenant(u.auth_of(caller.value), request["client"])

    def doomed(tenant: Expr, name: Expr) -> Expr:
        return z3.And(tenant == target, s.mapped[tenant, name], s.active.providers[s.key_provider[tenant, name]])

    def destroyed(h: Expr) -> Expr:
        return u.exists(
            [u.Name],
            lambda n: z3.And(
                doomed(target, n), s.key_handle[target, n] == h, u.provider_of(h) == s.key_provider[target, n]
            ),
        )

    emptied = replace(
        s,
        mapped=u.table([u.Tenant, u.Name], lambda t, n: z3.And(s.mapped[t, n], z3.Not(doomed(t, n)))),
        stored=u.table([u.Handle], lambda h: z3.And(s.stored[h], z3.Not(destroyed(h)))),
    )
    effects = replace(no_effects(u, route.actor), admin_op=succeeds, deleted_client=Opt(succeeds, target))
    return SymStep(
        z3.BoolVal(True), emptied.ite(succeeds, s), first_failure(checks, E.status[Status.SUCCESS.value]), effects
    )


@_encodes(Ping, ListProviders, ListAuthenticators)
def _always_success(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    return _reply(u, s, E.status[Status.SUCCESS.value], route)


@_encodes(ListOpcodes)
def _list_opcodes(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    provider = request["provider_id"]
    unregistered = z3.And(provider != E.provider[ProviderId.CORE], z3.Not(s.active.providers[provider]))
    status = first_failure([(unregistered, Status.PROVIDER_NOT_REGISTERED)], E.status[Status.SUCCESS.value])
    return _reply(u, s, status, route)


@_encodes(GenerateRandom, HashCompute, HashCompare)
def _stateless_crypto(u: Universe, s: SymState, request: Params, route: Route) -> SymStep:
    provider = request["provider"]
    checks = [
        *_provider_checks(s, provider),
        (z3.Not(E.supports(provider, request.operation.opcode)), Status.PSA_ERROR_NOT_SUPPORTED),  # type: ignore[attr-defined]
    ]
    if request.operation is GenerateRandom:
        checks.append((request["size"] > BUFFER_SIZE_LIMIT, Status.RESPONSE_TOO_LARGE))
    if request.operation is HashCompare:
        checks.append((z3.Not(request["matches"]), Status.PSA_ERROR_INVALID_SIGNATURE))
    return _reply(u, s, first_failure(checks, E.status[Status.SUCCESS.value]), route)


# ----------------------------------------------------------------------------------------------- all transitions
Encoder = Callable[[Universe, SymState, Params], SymStep]
ENCODERS: dict[type[Operation], Encoder] = {}


def _encodes_transition(*classes: type[Operation]) -> Callable[[Encoder], Encoder]:
    def register(encoder: Encoder) -> Encoder:
        for operation_class in classes:
            ENCODERS[operation_class] = encoder
        return encoder

    return register


def _serve_honestly(u: Universe, s: SymState, request: Params) -> SymStep:
    return serve(u, s, request, _honest_route(request))


for _request_class in _REQUEST_ENCODERS:
    ENCODERS[_request_class] = _serve_honestly


def _running(s: SymState) -> Expr:
    return s.lifecycle == E.lifecycle[Lifecycle.RUNNING]


def recover(u: Universe, s: SymState) -> SymState:
    """`model.step.recover`: drop dangling mappings and destroy unreferenced keys of every configured provider."""
    active = s.active.providers

    def kept_mapping(t: Expr, n: Expr) -> Expr:
        kp, kh = s.key_provider[t, n], s.key_handle[t, n]
        resolves = z3.And(u.provider_of(kh) == kp, s.stored[kh])
        return z3.And(s.mapped[t, n], z3.Or(z3.Not(active[kp]), resolves))

    def kept_key(h: Expr) -> Expr:
        referenced = u.exists(
            [u.Tenant, u.Name],
            lambda t, n: z3.And(s.mapped[t, n], s.key_handle[t, n] == h, s.key_provider[t, n] == u.provider_of(h)),
        )
        return z3.And(s.stored[h], z3.Or(z3.Not(active[u.provider_of(h)]), referenced))

    return replace(s, mapped=u.table([u.Tenant, u.Name], kept_mapping), stored=u.table([u.Handle], kept_key))


def _start(u: Universe, s: SymState) -> tuple[SymState, SymEffects]:
    started = recover(u, replace(s, active=s.file, lifecycle=E.lifecycle[Lifecycle.RUNNING]))
    return started, replace(no_effects(u), reconfigured=z3.BoolVal(True))


def _no_answer(u: Universe, guard: Expr, post: SymState, effects: SymEffects) -> SymStep:
    return SymStep(guard, post, E.status[NO_RESPONSE], effects)


@_encodes_transition(Reload, Restart)
def _reload_or_restart(u: Universe, s: SymState, params: Params) -> SymStep:
    started, effects = _start(u, s)
    guard = _running(s) if params.operation is Reload else z3.Not(_running(s))
    return _no_answer(u, guard, started, effects)


@_encodes_transition(Shutdown, Crash)
def _stop(u: Universe, s: SymState, params: Params) -> SymStep:
    lifecycle = Lifecycle.STOPPED if params.operation is Shutdown else Lifecycle.CRASHED
    return _no_answer(u, _running(s), replace(s, lifecycle=E.lifecycle[lifecycle]), no_effects(u))


@_encodes_transition(CrashAfterProviderWrite)
def _crash_after_provider_write(u: Universe, s: SymState, params: Params) -> SymStep:
    request: Params = params["request"]
    done = _serve_honestly(u, s, request)
    caller: Opt = request["caller"]
    guard = z3.And(caller.present, done.status == E.status[Status.SUCCESS.value], done.guard)
    crashed = replace(
        done.post,
        mapped=done.post.mapped.store((caller.value, request["key_name"]), z3.BoolVal(False)),
        lifecycle=E.lifecycle[Lifecycle.CRASHED],
    )
    return _no_answer(u, guard, crashed, done.effects)


@_encodes_transition(CrashAfterMappingRemoval)
def _crash_after_mapping_removal(u: Universe, s: SymState, params: Params) -> SymStep:
    request: Params = params["request"]
    done = _serve_honestly(u, s, request)
    caller: Opt = request["caller"]
    guard = z3.And(caller.present, done.status == E.status[Status.SUCCESS.value])
    crashed = replace(
        s,
        mapped=s.mapped.store((caller.value, request["key_name"]), z3.BoolVal(False)),
        lifecycle=E.lifecycle[Lifecycle.CRASHED],
    )
    return _no_answer(u, guard, crashed, replace(done.effects, touched=_nothing_touched(u)))


def accepts(u: Universe, s: SymState, actor: Expr, identity: Expr) -> Expr:
    """`model.step.accepts`."""
    authenticator = s.active.authenticator
    token = z3.Or(s.tokens[actor, identity], s.forgers[actor])
    return z3.Or(
        actor == identity,
        authenticator == E.auth["direct"],
        z3.And(authenticator == E.auth["jwt-svid"], token),
        z3.And(authenticator == E.auth["peer"], s.tokens[actor, identity]),
    )


def _carried(params: Params) -> tuple[Params, Opt]:
    request: Params = params["request"]
    return request, request["caller"]


def _attacker(params: Params) -> Opt:
    return Opt(z3.BoolVal(True), params["attacker"])


def _with_guard(step: SymStep, guard: Expr) -> SymStep:
    return replace(step, guard=z3.And(guard, step.guard))


@_encodes_transition(PresentCredential, ClaimIdentity)
def _impersonate(u: Universe, s: SymState, params: Params) -> SymStep:
    request, caller = _carried(params)
    attacker = _attacker(params)
    route = Route(attacker, (attacker,), accepts(u, s, attacker.value, caller.value))
    return _with_guard(serve(u, s, request, route), caller.present)


@_encodes_transition(TamperInTransit)
def _tamper_in_transit(u: Universe, s: SymState, params: Params) -> SymStep:
    request, caller = _carried(params)
    route = Route(_attacker(params), (caller,), z3.BoolVal(True))
    return _with_guard(serve(u, s, request, route), caller.present)


@_encodes_transition(EavesdropResponse)
def _eavesdrop_response(u: Universe, s: SymState, params: Params) -> SymStep:
    request, caller = _carried(params)
    route = Route(caller, (caller, _attacker(params)), z3.BoolVal(True))
    return _with_guard(serve(u, s, request, route), caller.present)


@_encodes_transition(TamperMappingRead)
def _tamper_mapping_read(u: Universe, s: SymState, params: Params) -> SymStep:
    request, caller = _carried(params)
    route = replace(_honest_route(request), handle_override=params["handle"])
    return _with_guard(serve(u, s, request, route), caller.present)


@_encodes_transition(ProbeStatus)
def _probe_status(u: Universe, s: SymState, params: Params) -> SymStep:
    victim = params["victim"]
    held = s.mapped[victim, params["key_name"]]
    status = z3.If(
        held, E.status[Status.PSA_ERROR_NOT_PERMITTED.value], E.status[Status.PSA_ERROR_DOES_NOT_EXIST.value]
    )
    effects = replace(no_effects(u, _attacker(params)), namespace=Opt(z3.BoolVal(True), victim))
    return SymStep(_running(s), s, status, effects)


@_encodes_transition(
    StealToken,
    GuessToken,
    SniffRequest,
    PlantEndpoint,
    MisdirectClient,
    UseUnixAccount,
    ReuseUid,
    DuplicateSpiffeId,
    SniffValidationRequest,
)
def _obtain_token(u: Universe, s: SymState, params: Params) -> SymStep:
    attacker, victim = params["attacker"], params["victim"]
    post = replace(s, tokens=s.tokens.store((attacker, victim), z3.BoolVal(True)))
    return _no_answer(u, attacker != victim, post, no_effects(u, _attacker(params)))


@_encodes_transition(SpoofTrustBundle, TamperTrustBundle, SpoofSpiffeValidation, TamperValidationResponse)
def _forge_tokens(u: Universe, s: SymState, params: Params) -> SymStep:
    post = replace(s, forgers=s.forgers.store(params["attacker"], z3.BoolVal(True)))
    return _no_answer(u, z3.BoolVal(True), post, no_effects(u, _attacker(params)))


@_encodes_transition(SendSignal)
def _send_signal(u: Universe, s: SymState, params: Params) -> SymStep:
    signal = params["signal"]
    started, _ = _start(u, s)
    stopped = replace(s, lifecycle=E.lifecycle[Lifecycle.STOPPED])
    crashed = replace(s, lifecycle=E.lifecycle[Lifecycle.CRASHED])
    reloads = signal == E.signal[Signal.SIGHUP]
    post = started.ite(reloads, stopped.ite(signal == E.signal[Signal.SIGTERM], crashed))
    return _no_answer(u, _running(s), post, replace(no_effects(u), reconfigured=reloads))


def _hardware_key(u: Universe, s: SymState, handle: Expr) -> Expr:
    return z3.And(E.provider_in(u.provider_of(handle), HARDWARE_PROVIDERS), s.stored[handle])


@_encodes_transition(HardwareUse)
def _hardware_use(u: Universe, s: SymState, params: Params) -> SymStep:
    handle = params["handle"]
    effects = replace(no_effects(u, _attacker(params)), touched=_only(u, handle))
    return _no_answer(u, _hardware_key(u, s, handle), s, effects)


@_encodes_transition(HardwareExtract)
def _hardware_extract(u: Universe, s: SymState, params: Params) -> SymStep:
    handle = params["handle"]
    attributes = s.attrs[handle]
    guard = z3.And(_hardware_key(u, s, handle), E.may(attributes, Usage.EXPORT), _private(E.Attrs.kind(attributes)))
    release = SymRelease(z3.BoolVal(True), handle, _attacker(params), False)
    effects = replace(no_effects(u, _attacker(params)), touched=_only(u, handle), releases=(release,))
    return _no_answer(u, guard, s, effects)


@_encodes_transition(HardwareTamper)
def _hardware_tamper(u: Universe, s: SymState, params: Params) -> SymStep:
    handle = params["handle"]
    effects = replace(no_effects(u, _attacker(params)), touched=_only(u, handle))
    post = replace(s, stored=s.stored.store(handle, z3.BoolVal(False)))
    return _no_answer(u, _hardware_key(u, s, handle), post, effects)


def _edit_file(s: SymState, **changes: Expr) -> SymState:
    return replace(s, file=replace(s.file, **changes))


@_encodes_transition(PlugRogueModule, ConfigureRogueProvider)
def _configure_rogue(u: Universe, s: SymState, params: Params) -> SymStep:
    provider = params["provider"]
    post = _edit_file(s, rogue=s.file.rogue.store(provider, z3.BoolVal(True)))
    return _no_answer(u, E.provider_in(provider, CRYPTO_PROVIDERS), post, no_effects(u, _attacker(params)))


@_encodes_transition(WriteMapping)
def _write_mapping(u: Universe, s: SymState, params: Params) -> SymStep:
    tenant, name, provider = params["tenant"], params["key_name"], params["provider"]
    post = replace(
        s,
        mapped=s.mapped.store((tenant, name), z3.BoolVal(True)),
        key_provider=s.key_provider.store((tenant, name), provider),
        key_handle=s.key_handle.store((tenant, name), params["handle"]),
    )
    return _no_answer(u, E.provider_in(provider, CRYPTO_PROVIDERS), post, no_effects(u, _attacker(params)))


@_encodes_transition(DeleteMapping)
def _delete_mapping(u: Universe, s: SymState, params: Params) -> SymStep:
    tenant, name = params["tenant"], params["key_name"]
    post = replace(s, mapped=s.mapped.store((tenant, name), z3.BoolVal(False)))
    return _no_answer(u, s.mapped[tenant, name], post, no_effects(u, _attacker(params)))


@_encodes_transition(AddConfiguredAdmin)
def _add_configured_admin(u: Universe, s: SymState, params: Params) -> SymStep:
    post = _edit_file(s, admins=s.file.admins.store(params["admin"], z3.BoolVal(True)))
    return _no_answer(u, z3.BoolVal(True), post, no_effects(u, _attacker(params)))


@_encodes_transition(SetConfiguredAuthenticator)
def _set_configured_authenticator(u: Universe, s: SymState, params: Params) -> SymStep:
    post = _edit_file(s, authenticator=params["authenticator"])
    return _no_answer(u, z3.BoolVal(True), post, no_effects(u, _attacker(params)))


@_encodes_transition(DropConfiguredProvider)
def _drop_configured_provider(u: Universe, s: SymState, params: Params) -> SymStep:
    provider = params["provider"]
    guard = z3.And(provider != E.provider[ProviderId.CORE], s.file.providers[provider])
    post = _edit_file(s, providers=s.file.providers.store(provider, z3.BoolVal(False)))
    return _no_answer(u, guard, post, no_effects(u, _attacker(params)))


class MissingEncoder(LookupError):
    """A transition registered in `model.transitions` has no Z3 encoder: nothing can be proved about it."""


def encode(u: Universe, s: SymState, params: Params) -> SymStep:
    """The symbolic step of `params.operation` from `s`."""
    encoder = ENCODERS.get(params.operation)
    if encoder is None:
        name = params.operation.__name__
        raise MissingEncoder(
            f"the transition {name} has no Z3 encoder, so no proof can cover it: write its twin in model/symbolic.py "
            f"(@_encodes_transition({name}), or @_encodes({name}) for a request) as docs/extending-the-model.md shows"
        )
    return encoder(u, s, params)
