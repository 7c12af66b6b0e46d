"""Conversion between the concrete model and its Z3 twin.

- `fresh_params`: symbolic parameters for an operation class (the unknowns of a transition);
- `encode_params`, `encode_state`: concrete operations and states as ground Z3 terms of a finite `Universe`;
- `decode_operation`: an operation read back from a Z3 model (a bounded-model-checking counterexample);
- `effects_match`: whether symbolic effects equal concrete `Effects` (the agreement test).

Field kinds come from the operation dataclasses' type hints, so a new operation needs no codec change unless it
introduces a new kind of field.
"""

from __future__ import annotations

import typing
from dataclasses import fields
from typing import Any, Literal, get_args, get_origin

import z3

from model.nouns import Handle, KeyAttributes, KeyKind, KeyName, ProviderId, Signal, Tenant, Usage
from model.operations import Operation, Request
from model.state import State
from model.step import OBSERVABLES, Effects
from model.symbolic import ENUMS as E
from model.symbolic import EXTRA_PARAMS, Expr, Opt, Params, SymConfig, SymEffects, SymState, Universe

FieldKind = Literal[
    "tenant", "opt_tenant", "name", "app", "provider", "attrs", "bool", "int", "handle", "signal", "auth", "request"
]


_FIELD_KINDS: dict[type[Operation], tuple[tuple[str, FieldKind], ...]] = {}


def field_kinds(operation: type[Operation]) -> tuple[tuple[str, FieldKind], ...]:
    """(field name, kind) of every field of `operation`, extra symbolic choices included."""
    if operation not in _FIELD_KINDS:
        hints = typing.get_type_hints(operation)
        kinds = [(f.name, _kind(hints[f.name])) for f in fields(operation)]
        kinds += [(name, "handle") for name in EXTRA_PARAMS.get(operation, ())]
        _FIELD_KINDS[operation] = tuple(kinds)
    return _FIELD_KINDS[operation]


def _kind(hint: Any) -> FieldKind:
    simple: dict[Any, FieldKind] = {
        Tenant: "tenant",
        Tenant | None: "opt_tenant",
        KeyName: "name",
        str: "app",
        ProviderId: "provider",
        KeyAttributes: "attrs",
        bool: "bool",
        int: "int",
        Handle: "handle",
        Signal: "signal",
    }
    if hint in simple:
        return simple[hint]
    if get_origin(hint) is Literal:
        return "auth"
    members = get_args(hint) or (hint,)
    if all(isinstance(m, type) and issubclass(m, Request) for m in members):
        return "request"
    raise TypeError(f"no symbolic encoding for a field of type {hint!r}")


def _sort(u: Universe, kind: FieldKind) -> Any:
    return {
        "tenant": u.Tenant,
        "name": u.Name,
        "app": u.App,
        "provider": E.Provider,
        "attrs": E.Attrs,
        "int": z3.IntSort(),
        "bool": z3.BoolSort(),
        "handle": u.Handle,
        "signal": E.Signal,
        "auth": E.Auth,
    }[kind]


def fresh_params(u: Universe, operation: type[Operation], prefix: str, inner: type[Request] | None = None) -> Params:
    """Unconstrained parameters for `operation` (carrying a request of class `inner`, if it carries one)."""
    values: dict[str, Any] = {}
    for name, kind in field_kinds(operation):
        if kind == "request":
            assert inner is not None, f"{operation.__name__} carries a request: name its class"
            values[name] = fresh_params(u, inner, f"{prefix}.{name}")
        elif kind == "opt_tenant":
            values[name] = Opt(z3.Bool(f"{prefix}.{name}?"), z3.Const(f"{prefix}.{name}", u.Tenant))
        else:
            values[name] = z3.Const(f"{prefix}.{name}", _sort(u, kind))
    return Params(operation, values)


# ---------------------------------------------------------------------------------------------------------- encode
def tenant_term(u: Universe, tenant: Tenant) -> Expr:
    return u.tenant(E.auth[tenant.auth], u.app_values[tenant.name])


def handle_term(u: Universe, handle: Handle) -> Expr:
    return u.handle(E.provider[handle.provider], u.local_values[handle.local_id])


def attrs_term(attributes: KeyAttributes) -> Expr:
    flags = [z3.BoolVal(usage in attributes.usage) for usage in Usage]
    return E.Attrs.constructor(0)(E.kind[attributes.kind], *flags)


def _encode_value(u: Universe, kind: FieldKind, value: Any) -> Any:
    match kind:
        case "tenant":
            return tenant_term(u, value)
        case "opt_tenant":
            return _opt(u, value)
        case "name":
            return u.name_values[value.value]
        case "app":
            return u.app_values[value]
        case "provider":
            return E.provider[value]
        case "attrs":
            return attrs_term(value)
        case "bool":
            return z3.BoolVal(value)
        case "int":
            return z3.IntVal(value)
        case "handle":
            return handle_term(u, value)
        case "signal":
            return E.signal[value]
        case "auth":
            return E.auth[value]
    raise AssertionError(kind)


def _opt(u: Universe, tenant: Tenant | None) -> Opt:
    if tenant is None:
        return Opt(z3.BoolVal(False), u.tenant(E.auth["direct"], next(iter(u.app_values.values()))))
    return Opt(z3.BoolVal(True), tenant_term(u, tenant))


def encode_params(u: Universe, operation: Operation, fresh_handle: Handle) -> Params:
    """`operation` as ground parameters; `fresh_handle` is the key ID a key creation allocates."""
    values: dict[str, Any] = {}
    for name, kind in field_kinds(type(operation)):
        if name in EXTRA_PARAMS.get(type(operation), ()):
            values[name] = handle_term(u, fresh_handle)
        elif kind == "request":
            values[name] = encode_params(u, getattr(operation, name), fresh_handle)
        else:
            values[name] = _encode_value(u, kind, getattr(operation, name))
    return Params(type(operation), values)


def _default_handle(u: Universe) -> Expr:
    return u.handle(E.provider[ProviderId.CORE], next(iter(u.local_values.values())))


def _config_term(u: Universe, config: Any) -> SymConfig:
    def listing(sort: Any, members: Any, term: Any) -> Any:
        table = u.constant_table([sort], z3.BoolVal(False))
        for member in members:
            table = table.store(term(member), z3.BoolVal(True))
        return table

    return SymConfig(
        E.auth[config.authenticator],
        listing(u.App, config.admins, lambda admin: u.app_values[admin]),
        listing(E.Provider, config.providers, lambda provider: E.provider[provider]),
        listing(E.Provider, config.rogue, lambda provider: E.provider[provider]),
    )


def encode_state(u: Universe, state: State) -> SymState:
    """`state` as ground Z3 terms (values behind absent entries are arbitrary fixed defaults)."""
    default_tenant = u.tenant(E.auth["direct"], next(iter(u.app_values.values())))
    default_name = next(iter(u.name_values.values()))
    mapped = u.constant_table([u.Tenant, u.Name], z3.BoolVal(False))
    key_provider = u.constant_table([u.Tenant, u.Name], E.provider[ProviderId.CORE])
    key_handle = u.constant_table([u.Tenant, u.Name], _default_handle(u))
    for identity, entry in state.mappings.items():
        index = (tenant_term(u, identity.tenant), u.name_values[identity.key_name.value])
        mapped = mapped.store(index, z3.BoolVal(True))
        key_provider = key_provider.store(index, E.provider[entry.provider])
        key_handle = key_handle.store(index, handle_term(u, entry.handle))
    stored = u.constant_table([u.Handle], z3.BoolVal(False))
    attrs = u.constant_table([u.Handle], attrs_term(KeyAttributes(KeyKind.AES, frozenset())))
    owner = u.constant_table([u.Handle], default_tenant)
    origin = u.constant_table([u.Handle], default_name)
    for handle, key in state.provider_keys.items():
        h = handle_term(u, handle)
        stored = stored.store(h, z3.BoolVal(True))
        attrs = attrs.store(h, attrs_term(key.attributes))
        owner = owner.store(h, tenant_term(u, key.owner))
        origin = origin.store(h, u.name_values[key.origin.value])
    allocated = u.constant_table([u.Local], z3.BoolVal(False))
    for local_id in range(1, state.next_key_id):
        allocated = allocated.store(u.local_values[local_id], z3.BoolVal(True))
    tokens = u.table([u.Tenant, u.Tenant], lambda p, t: p == t)
    for holder, tenant in state.tokens:
        tokens = tokens.store((tenant_term(u, holder), tenant_term(u, tenant)), z3.BoolVal(True))
    forgers = u.constant_table([u.Tenant], z3.BoolVal(False))
    for forger in state.forgers:
        forgers = forgers.store(tenant_term(u, forger), z3.BoolVal(True))
    return SymState(
        lifecycle=E.lifecycle[state.lifecycle],
        mapped=mapped,
        key_provider=key_provider,
        key_handle=key_handle,
        stored=stored,
        allocated=allocated,
        attrs=attrs,
        owner=owner,
        origin=origin,
        active=_config_term(u, state.active),
        file=_config_term(u, state.config_file),
        intended=_config_term(u, state.intended),
        tokens=tokens,
        forgers=forgers,
    )


def _opt_matches(u: Universe, opt: Opt, tenant: Tenant | None) -> Expr:
    if tenant is None:
        return z3.Not(opt.present)
    return z3.And(opt.present, opt.value == tenant_term(u, tenant))


def effects_match(u: Universe, symbolic: SymEffects, concrete: Effects) -> Expr:
    """Whether the symbolic effects are exactly the concrete ones (releases compared as sets)."""
    touched = u.constant_table([u.Handle], z3.BoolVal(False))
    for handle in concrete.touched:
        touched = touched.store(handle_term(u, handle), z3.BoolVal(True))
    concrete_releases = [(handle_term(u, r.handle), r.recipient, r.via_export_key) for r in concrete.releases]

    def slot_is(slot: Any, release: tuple[Expr, Tenant | None, bool]) -> Expr:
        handle, recipient, via = release
        return z3.And(
            slot.condition,
            slot.handle == handle,
            _opt_matches(u, slot.recipient, recipient),
            z3.BoolVal(slot.via_export_key == via),
        )

    releases = z3.And(
        *(
            z3.Implies(slot.condition, z3.Or([slot_is(slot, r) for r in concrete_releases]))
            for slot in symbolic.releases
        ),
        *(z3.Or([slot_is(slot, r) for slot in symbolic.releases]) for r in concrete_releases),
    )
    return z3.And(
        _opt_matches(u, symbolic.actor, concrete.actor),
        _opt_matches(u, symbolic.namespace, concrete.namespace),
        symbolic.touched.equals(touched),
        releases,
        symbolic.admin_op == z3.BoolVal(concrete.admin_op),
        _opt_matches(u, symbolic.deleted_client, concrete.deleted_client),
        symbolic.reconfigured == z3.BoolVal(concrete.reconfigured),
        *(
            symbolic.mark(name) == z3.BoolVal(name in concrete.marks)
            for name in sorted({*OBSERVABLES, *symbolic.marks, *concrete.marks})
        ),
    )


# ---------------------------------------------------------------------------------------------------------- decode
def _reverse(values: dict[Any, Expr]) -> dict[str, Any]:
    return {str(term): value for value, term in values.items()}


def decode_tenant(u: Universe, model: z3.ModelRef, term: Expr) -> Tenant:
    auth = _reverse(E.auth)[str(model.eval(u.auth_of(term), model_completion=True))]
    app = _reverse(u.app_values)[str(model.eval(u.app_of(term), model_completion=True))]
    return Tenant(auth, app)


def decode_handle(u: Universe, model: z3.ModelRef, term: Expr) -> Handle:
    provider = _reverse(E.provider)[str(model.eval(u.provider_of(term), model_completion=True))]
    local = _reverse(u.local_values)[str(model.eval(u.local_of(term), model_completion=True))]
    return Handle(provider, local)


def _decode_value(u: Universe, model: z3.ModelRef, kind: FieldKind, term: Any) -> Any:
    def value_of(expr: Expr) -> str:
        return str(model.eval(expr, model_completion=True))

    match kind:
        case "tenant":
            return decode_tenant(u, model, term)
        case "opt_tenant":
            return decode_tenant(u, model, term.value) if z3.is_true(model.eval(term.present, True)) else None
        case "name":
            return KeyName(_reverse(u.name_values)[value_of(term)])
        case "app":
            return _reverse(u.app_values)[value_of(term)]
        case "provider":
            return _reverse(E.provider)[value_of(term)]
        case "attrs":
            kind_value = _reverse(E.kind)[value_of(E.Attrs.kind(term))]
            usage = frozenset(use for use in Usage if z3.is_true(model.eval(E.may(term, use), True)))
            return KeyAttributes(kind_value, usage)
        case "bool":
            return z3.is_true(model.eval(term, True))
        case "int":
            return model.eval(term, True).as_long()
        case "handle":
            return decode_handle(u, model, term)
        case "signal":
            return _reverse(E.signal)[value_of(term)]
        case "auth":
            return _reverse(E.auth)[value_of(term)]
    raise AssertionError(kind)


def decode_operation(u: Universe, model: z3.ModelRef, params: Params) -> Operation:
    """The concrete operation a counterexample's parameters stand for (extra symbolic choices dropped)."""
    values: dict[str, Any] = {}
    for name, kind in field_kinds(params.operation):
        if name in EXTRA_PARAMS.get(params.operation, ()):
            continue
        term = params[name]
        values[name] = decode_operation(u, model, term) if kind == "request" else _decode_value(u, model, kind, term)
    return params.operation(**values)
