"""The concrete transitions of the service model and `step`, the pure function the stateful tests run.

`step(state, operation, mitigations) -> (state', Outcome)`: `Outcome.status` is the Parsec status name the service
must answer (None: the service does not answer, e.g. it is stopped), `Outcome.result` the observable result, and
`Outcome.effects` what the properties look at (who acted, whose namespace and which keys were touched, which private
material left a provider and to whom).

Statuses follow Parsec's order of checks (parsec-facts §1.2 steps 8–13, §3.8, §4.6): authenticator not registered,
authentication error, provider not registered, crypto opcode sent to core (PsaErrorNotSupported), admin check
(NotAuthenticated / AdminOperation), NoAuth on an operation needing an identity (NotAuthenticated), opcode not
implemented by the provider (PsaErrorNotSupported), then the key info manager and provider checks. Key creation is
"check name free, write the key to the provider, write the mapping"; destruction is "read the handle, remove the
mapping, destroy the key" (``svc:src/providers/mod.rs``). Every start (SIGHUP or restart) removes dangling mappings
(as Parsec's Mbed Crypto provider does) and destroys provider keys no mapping names (the recovery the reference
service must add so that a crash between the two writes leaves no orphan).

Each attacker capability of the seed is a transition declared with the mitigations that block it and the threat
rows it realises (`model.transitions.transition`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from model.frozen import FrozenMap
from model.nouns import (
    ASYMMETRIC_KINDS,
    CRYPTO_PROVIDERS,
    HARDWARE_PROVIDERS,
    Handle,
    KeyIdentity,
    Lifecycle,
    ProviderId,
    Signal,
    Tenant,
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
    KeyRequest,
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
    KEY_USE_RULES,
    PING_VERSION,
    PROVIDER_OPCODES,
    Status,
    create_check_fails,
)
from model.state import MappingEntry, ProviderKey, State
from model.transitions import REGISTRY, RevisionGate, mitigations_in_force, transition


class NotEnabled(Exception):
    """The operation is not possible in this state, deployment or set of mitigations."""


@dataclass(frozen=True)
class Release:
    """Private key material of `handle` left its provider towards `recipient` (None: outside every tenant)."""

    handle: Handle
    recipient: Tenant | None
    via_export_key: bool


@dataclass(frozen=True)
class Effects:
    """What an operation did, as the properties need to see it.

    `actor` is who really acted (not necessarily the authenticated identity); `namespace` whose key namespace a
    request read or wrote; `touched` the provider keys read or used; `admin_op` whether an admin operation passed
    the admin check; `deleted_client` the tenant a DeleteClient emptied; `reconfigured` whether the configuration was
    re-read (SIGHUP, restart); `marks` the declared observable effects (`observable`) the operation produced.
    """

    actor: Tenant | None = None
    namespace: Tenant | None = None
    touched: frozenset[Handle] = frozenset()
    releases: tuple[Release, ...] = ()
    admin_op: bool = False
    deleted_client: Tenant | None = None
    reconfigured: bool = False
    marks: frozenset[str] = frozenset()


OBSERVABLES: dict[str, str] = {}
"""Named yes/no observations a transition can add to its effects (`Effects.marks`, `SymEffects.marks`), with their
meaning: the way to give the properties something new to look at without a new field (`observable`)."""


def observable(name: str, meaning: str) -> str:
    """Declare the observable effect `name`; the agreement check compares it between the model and its twin."""
    if OBSERVABLES.get(name, meaning) != meaning:
        raise ValueError(f"the observable effect {name!r} is already declared with another meaning")
    OBSERVABLES[name] = meaning
    return name


@dataclass(frozen=True)
class Outcome:
    """The service's answer: the Parsec status name (None: no answer), the result, and the effects."""

    status: str | None
    result: tuple[Any, ...] | None = None
    effects: Effects = field(default_factory=Effects)


NO_RESPONSE = Outcome(None)


@dataclass(frozen=True)
class Route:
    """How a request reaches the service: who sends it, who reads the response, whether its credential is accepted.

    `handle_override` replaces the handle the key info manager's storage returns (seed A7).
    """

    actor: Tenant | None
    recipients: tuple[Tenant, ...]
    authenticated: bool
    handle_override: Handle | None = None


def honest_route(request: Request) -> Route:
    """The route of a request its caller sends over its own connection."""
    caller = request.caller
    return Route(caller, (caller,) if caller is not None else (), True)


def step(state: State, operation: Operation, mitigations: frozenset[str] | None = None) -> tuple[State, Outcome]:
    """Apply `operation` to `state` with `mitigations` in force (default: all of its deployment's document).

    Raises `NotEnabled` when the operation's capability is blocked or its precondition does not hold.
    """
    in_force = mitigations_in_force(state.variant) if mitigations is None else mitigations
    spec = REGISTRY[type(operation)]
    if not spec.is_open(state.variant, in_force):
        raise NotEnabled(f"{type(operation).__name__} is blocked by {', '.join(spec.blockers(state.variant))}")
    result: tuple[State, Outcome] | None = spec.run(state, operation)
    if result is None:
        raise NotEnabled(f"{operation} is not possible in this state")
    return result


def enabled(state: State, operation: Operation, mitigations: frozenset[str] | None = None) -> bool:
    """Whether `step` accepts `operation` (a Hypothesis precondition)."""
    try:
        step(state, operation, mitigations)
    except NotEnabled:
        return False
    return True


# ------------------------------------------------------------------------------------------------- request helpers
def _reply(status: Status, route: Route, result: tuple[Any, ...] | None = None, **effects: Any) -> Outcome:
    return Outcome(status.value, result, Effects(actor=route.actor, **effects))


def accepts(state: State, actor: Tenant, identity: Tenant) -> bool:
    """Whether the configured authenticator accepts a credential `actor` can present for `identity`.

    Direct believes any name; Unix peer credentials are checked by the kernel, so they are `identity`'s when `actor`
    runs under `identity`'s Unix account (DSPC: `tokens` then lists accounts held); a JWT-SVID is valid when `actor`
    holds `identity`'s token or can sign tokens the trust bundle (or the SPIFFE validation) accepts.
    """
    if actor == identity:
        return True
    match state.active.authenticator:
        case "direct":
            return True
        case "jwt-svid":
            return (actor, identity) in state.tokens or actor in state.forgers
        case "peer":
            return (actor, identity) in state.tokens
        case _:
            return False


def serve(state: State, request: Request, route: Route) -> tuple[State, Outcome]:
    """The front end: answer nothing when stopped, then authenticate, then hand over to the request's handler."""
    if state.lifecycle is not Lifecycle.RUNNING:
        return state, NO_RESPONSE
    caller = request.caller
    if caller is not None and caller.auth != state.active.authenticator:
        return state, _reply(Status.AUTHENTICATOR_NOT_REGISTERED, route)
    if caller is not None and not route.authenticated:
        return state, _reply(Status.AUTHENTICATION_ERROR, route)
    result: tuple[State, Outcome] = _HANDLERS[type(request)](state, request, route)
    return result


def _provider_failure(state: State, provider: ProviderId) -> Status | None:
    """Dispatch and capability checks of a crypto request up to, not including, the identity check."""
    if provider is not ProviderId.CORE and provider not in state.active.providers:
        return Status.PROVIDER_NOT_REGISTERED
    if provider is ProviderId.CORE:
        return Status.PSA_ERROR_NOT_SUPPORTED
    return None


def _key_request_failure(state: State, request: KeyRequest) -> Status | None:
    """The checks every key request passes before the key info manager is consulted."""
    failure = _provider_failure(state, request.provider)
    if failure is not None:
        return failure
    if request.caller is None:
        return Status.NOT_AUTHENTICATED
    if request.opcode not in PROVIDER_OPCODES[request.provider]:
        return Status.PSA_ERROR_NOT_SUPPORTED
    return None


def _resolve(state: State, request: KeyRequest, route: Route) -> Handle | None:
    """The provider key the request's key name leads to, or None (PsaErrorDoesNotExist)."""
    assert request.caller is not None
    entry = state.entry(KeyIdentity(request.caller, request.key_name))
    handle = route.handle_override
    if handle is None:
        if entry is None or entry.provider is not request.provider:
            return None
        handle = entry.handle
    if handle.provider is not request.provider or handle not in state.provider_keys:
        return None
    return handle


def _private_releases(state: State, handle: Handle, route: Route) -> tuple[Release, ...]:
    if not state.provider_keys[handle].attributes.has_private_material:
        return ()
    return tuple(Release(handle, recipient, True) for recipient in route.recipients)


# ---------------------------------------------------------------------------------------------------- key requests
def _create(state: State, request: GenerateKey | ImportKey, route: Route) -> tuple[State, Outcome]:
    failure = _key_request_failure(state, request)
    if failure is not None:
        return state, _reply(failure, route)
    assert request.caller is not None
    identity = KeyIdentity(request.caller, request.key_name)
    namespace = request.caller
    name_taken = identity in state.mappings
    for check in CREATE_CHECKS[request.opcode][request.provider]:
        if create_check_fails(check, request.opcode, request.provider, request.attributes.kind, name_taken):
            return state, _reply(CREATE_CHECK_STATUS[check], route, namespace=namespace)
    handle = Handle(request.provider, state.next_key_id)
    key = ProviderKey(request.attributes, request.caller, request.key_name)
    leaked = request.provider in state.active.rogue and request.attributes.has_private_material
    new_state = state.evolve(
        provider_keys=state.provider_keys.set(handle, key),
        mappings=state.mappings.set(identity, MappingEntry(request.provider, handle)),
        next_key_id=state.next_key_id + 1,
    )
    releases = (Release(handle, None, False),) if leaked else ()
    return new_state, _reply(Status.SUCCESS, route, namespace=namespace, releases=releases)


def _destroy(state: State, request: DestroyKey, route: Route) -> tuple[State, Outcome]:
    failure = _key_request_failure(state, request)
    if failure is not None:
        return state, _reply(failure, route)
    assert request.caller is not None
    identity = KeyIdentity(request.caller, request.key_name)
    namespace = request.caller
    entry = state.entry(identity)
    if entry is None or entry.provider is not request.provider:
        return state, _reply(Status.PSA_ERROR_DOES_NOT_EXIST, route, namespace=namespace)
    unmapped = state.evolve(mappings=state.mappings.without([identity]))
    if entry.handle.provider is not request.provider or entry.handle not in state.provider_keys:
        return unmapped, _reply(Status.PSA_ERROR_DOES_NOT_EXIST, route, namespace=namespace)
    destroyed = unmapped.evolve(provider_keys=state.provider_keys.without([entry.handle]))
    return destroyed, _reply(Status.SUCCESS, route, namespace=namespace, touched=frozenset({entry.handle}))


def _use(state: State, request: KeyUse, route: Route) -> tuple[State, Outcome]:
    failure = _key_request_failure(state, request)
    if failure is not None:
        return state, _reply(failure, route)
    assert request.caller is not None
    namespace = request.caller
    handle = _resolve(state, request, route)
    if handle is None:
        return state, _reply(Status.PSA_ERROR_DOES_NOT_EXIST, route, namespace=namespace)
    touched = frozenset({handle})
    attributes = state.provider_keys[handle].attributes
    usage, kinds = KEY_USE_RULES[request.opcode]
    if usage not in attributes.usage or attributes.kind not in kinds:
        return state, _reply(Status.PSA_ERROR_NOT_PERMITTED, route, namespace=namespace, touched=touched)
    if request.forgery_status is not None and not getattr(request, "authentic", True):
        return state, _reply(request.forgery_status, route, namespace=namespace, touched=touched)
    return state, _reply(Status.SUCCESS, route, (handle,), namespace=namespace, touched=touched)


def _export(state: State, request: ExportKey, route: Route) -> tuple[State, Outcome]:
    failure = _key_request_failure(state, request)
    if failure is not None:
        return state, _reply(failure, route)
    assert request.caller is not None
    namespace = request.caller
    handle = _resolve(state, request, route)
    if handle is None:
        return state, _reply(Status.PSA_ERROR_DOES_NOT_EXIST, route, namespace=namespace)
    touched = frozenset({handle})
    attributes = state.provider_keys[handle].attributes
    if attributes.has_private_material and not attributes.exportable:
        return state, _reply(Status.PSA_ERROR_NOT_PERMITTED, route, namespace=namespace, touched=touched)
    releases = _private_releases(state, handle, route)
    return state, _reply(Status.SUCCESS, route, (handle,), namespace=namespace, touched=touched, releases=releases)


def _export_public(state: State, request: ExportPublicKey, route: Route) -> tuple[State, Outcome]:
    failure = _key_request_failure(state, request)
    if failure is not None:
        return state, _reply(failure, route)
    assert request.caller is not None
    namespace = request.caller
    handle = _resolve(state, request, route)
    if handle is None:
        return state, _reply(Status.PSA_ERROR_DOES_NOT_EXIST, route, namespace=namespace)
    touched = frozenset({handle})
    if state.provider_keys[handle].attributes.kind not in ASYMMETRIC_KINDS:
        return state, _reply(Status.PSA_ERROR_INVALID_ARGUMENT, route, namespace=namespace, touched=touched)
    return state, _reply(Status.SUCCESS, route, (handle,), namespace=namespace, touched=touched)


def _attest(state: State, request: PrepareKeyAttestation | AttestKey, route: Route) -> tuple[State, Outcome]:
    """Parsec's `key_attestation.rs`: the attesting key first (only the default), then the caller's key; AttestKey
    then needs a key with private material and a credential sealed to this key's name."""
    failure = _key_request_failure(state, request)
    if failure is None and not request.default_attesting_key:
        failure = Status.PSA_ERROR_NOT_SUPPORTED
    if failure is not None:
        return state, _reply(failure, route)
    assert request.caller is not None
    namespace = request.caller
    handle = _resolve(state, request, route)
    if handle is None:
        return state, _reply(Status.PSA_ERROR_DOES_NOT_EXIST, route, namespace=namespace)
    touched = frozenset({handle})
    if isinstance(request, AttestKey):
        if not state.provider_keys[handle].attributes.has_private_material:
            return state, _reply(Status.PSA_ERROR_INVALID_ARGUMENT, route, namespace=namespace, touched=touched)
        if not request.authentic:
            return state, _reply(request.forgery_status, route, namespace=namespace, touched=touched)
    return state, _reply(Status.SUCCESS, route, (handle,), namespace=namespace, touched=touched)


# --------------------------------------------------------------------------------------------------- core requests
def _list_keys(state: State, request: ListKeys, route: Route) -> tuple[State, Outcome]:
    if request.caller is None:
        return state, _reply(Status.NOT_AUTHENTICATED, route)
    listed = sorted(
        (identity.key_name.value, int(entry.provider))
        for identity, entry in state.mappings.items()
        if identity.tenant == request.caller and entry.provider in state.active.providers
    )
    return state, _reply(Status.SUCCESS, route, tuple(listed), namespace=request.caller)


def _admin_failure(state: State, request: Request) -> Status | None:
    if request.caller is None:
        return Status.NOT_AUTHENTICATED
    if request.caller.name not in state.active.admins:
        return Status.ADMIN_OPERATION
    return None


def _list_clients(state: State, request: ListClients, route: Route) -> tuple[State, Outcome]:
    failure = _admin_failure(state, request)
    if failure is not None:
        return state, _reply(failure, route)
    clients = sorted(
        {identity.tenant.name for identity, entry in state.mappings.items() if entry.provider in state.active.providers}
    )
    return state, _reply(Status.SUCCESS, route, tuple(clients), admin_op=True)


def _delete_client(state: State, request: DeleteClient, route: Route) -> tuple[State, Outcome]:
    failure = _admin_failure(state, request)
    if failure is not None:
        return state, _reply(failure, route)
    assert request.caller is not None
    target = Tenant(request.caller.auth, request.client)
    doomed = {
        identity: entry
        for identity, entry in state.mappings.items()
        if identity.tenant == target and entry.provider in state.active.providers
    }
    handles = {entry.handle for entry in doomed.values() if entry.handle.provider is entry.provider}
    new_state = state.evolve(
        mappings=state.mappings.without(doomed), provider_keys=state.provider_keys.without(handles)
    )
    return new_state, _reply(Status.SUCCESS, route, admin_op=True, deleted_client=target)


def _ping(state: State, request: Ping, route: Route) -> tuple[State, Outcome]:
    return state, _reply(Status.SUCCESS, route, PING_VERSION)


def _list_providers(state: State, request: ListProviders, route: Route) -> tuple[State, Outcome]:
    return state, _reply(Status.SUCCESS, route, (*state.active.providers, ProviderId.CORE))


def _list_authenticators(state: State, request: ListAuthenticators, route: Route) -> tuple[State, Outcome]:
    return state, _reply(Status.SUCCESS, route, (state.active.authenticator,))


def _list_opcodes(state: State, request: ListOpcodes, route: Route) -> tuple[State, Outcome]:
    provider = request.provider_id
    if provider is not ProviderId.CORE and provider not in state.active.providers:
        return state, _reply(Status.PROVIDER_NOT_REGISTERED, route)
    return state, _reply(Status.SUCCESS, route, tuple(sorted(PROVIDER_OPCODES[provider])))


def _crypto_failure(state: State, request: GenerateRandom | HashCompute | HashCompare) -> Status | None:
    failure = _provider_failure(state, request.provider)
    if failure is None and request.opcode not in PROVIDER_OPCODES[request.provider]:
        failure = Status.PSA_ERROR_NOT_SUPPORTED
    return failure


def _generate_random(state: State, request: GenerateRandom, route: Route) -> tuple[State, Outcome]:
    failure = _crypto_failure(state, request)
    if failure is None and request.size > BUFFER_SIZE_LIMIT:
        failure = Status.RESPONSE_TOO_LARGE
    return state, _reply(failure or Status.SUCCESS, route)


def _hash_compute(state: State, request: HashCompute, route: Route) -> tuple[State, Outcome]:
    return state, _reply(_crypto_failure(state, request) or Status.SUCCESS, route)


def _hash_compare(state: State, request: HashCompare, route: Route) -> tuple[State, Outcome]:
    failure = _crypto_failure(state, request)
    if failure is None and not request.matches:
        failure = Status.PSA_ERROR_INVALID_SIGNATURE
    return state, _reply(failure or Status.SUCCESS, route)


_HANDLERS: dict[type[Request], Any] = {
    Ping: _ping,
    ListProviders: _list_providers,
    ListAuthenticators: _list_authenticators,
    ListOpcodes: _list_opcodes,
    GenerateRandom: _generate_random,
    HashCompute: _hash_compute,
    HashCompare: _hash_compare,
    GenerateKey: _create,
    ImportKey: _create,
    DestroyKey: _destroy,
    ExportKey: _export,
    ExportPublicKey: _export_public,
    PrepareKeyAttestation: _attest,
    AttestKey: _attest,
    ListKeys: _list_keys,
    ListClients: _list_clients,
    DeleteClient: _delete_client,
    **{use: _use for use in KeyUse.__subclasses__()},
}


def _serve_honestly(state: State, request: Request) -> tuple[State, Outcome]:
    return serve(state, request, honest_route(request))


for _request_class in _HANDLERS:
    transition(_request_class)(_serve_honestly)


# ------------------------------------------------------------------------------------------------------- lifecycle
def recover(state: State) -> State:
    """Start-up of every configured provider: drop dangling mappings, destroy keys no mapping names."""
    active = state.active.providers

    def resolves(entry: MappingEntry) -> bool:
        return entry.handle.provider is entry.provider and entry.handle in state.provider_keys

    mappings = {i: e for i, e in state.mappings.items() if e.provider not in active or resolves(e)}
    referenced = {e.handle for e in state.mappings.values() if e.handle.provider is e.provider}
    provider_keys = {h: k for h, k in state.provider_keys.items() if h.provider not in active or h in referenced}
    return state.evolve(mappings=FrozenMap(mappings), provider_keys=FrozenMap(provider_keys))


def _start(state: State) -> tuple[State, Outcome]:
    started = recover(state.evolve(active=state.config_file, lifecycle=Lifecycle.RUNNING))
    return started, Outcome(None, effects=Effects(reconfigured=True))


@transition(Reload)
def _reload(state: State, operation: Reload) -> tuple[State, Outcome] | None:
    return _start(state) if state.lifecycle is Lifecycle.RUNNING else None


@transition(Restart)
def _restart(state: State, operation: Restart) -> tuple[State, Outcome] | None:
    return _start(state) if state.lifecycle is not Lifecycle.RUNNING else None


def _stop(state: State, lifecycle: Lifecycle) -> tuple[State, Outcome] | None:
    if state.lifecycle is not Lifecycle.RUNNING:
        return None
    return state.evolve(lifecycle=lifecycle), NO_RESPONSE


@transition(Shutdown)
def _shutdown(state: State, operation: Shutdown) -> tuple[State, Outcome] | None:
    return _stop(state, Lifecycle.STOPPED)


@transition(Crash)
def _crash(state: State, operation: Crash) -> tuple[State, Outcome] | None:
    return _stop(state, Lifecycle.CRASHED)


@transition(CrashAfterProviderWrite)
def _crash_after_provider_write(state: State, operation: CrashAfterProviderWrite) -> tuple[State, Outcome] | None:
    request = operation.request
    done, outcome = serve(state, request, honest_route(request))
    if outcome.status != Status.SUCCESS or request.caller is None:
        return None
    identity = KeyIdentity(request.caller, request.key_name)
    crashed = done.evolve(mappings=done.mappings.without([identity]), lifecycle=Lifecycle.CRASHED)
    return crashed, replace(outcome, status=None, result=None)


@transition(CrashAfterMappingRemoval)
def _crash_after_mapping_removal(state: State, operation: CrashAfterMappingRemoval) -> tuple[State, Outcome] | None:
    request = operation.request
    _, outcome = serve(state, request, honest_route(request))
    if outcome.status != Status.SUCCESS or request.caller is None:
        return None
    identity = KeyIdentity(request.caller, request.key_name)
    crashed = state.evolve(mappings=state.mappings.without([identity]), lifecycle=Lifecycle.CRASHED)
    return crashed, Outcome(None, effects=replace(outcome.effects, touched=frozenset()))


# ------------------------------------------------------------------------------------------ attacks: identity (A1/A2)
def _impersonate(state: State, operation: PresentCredential | ClaimIdentity) -> tuple[State, Outcome] | None:
    request = operation.request
    if request.caller is None:
        return None
    route = Route(operation.attacker, (operation.attacker,), accepts(state, operation.attacker, request.caller))
    return serve(state, request, route)


transition(PresentCredential, variants=("with-idp",), revision=RevisionGate((), (), ("GNRC", "DSPC", "JWTS")))(
    _impersonate
)
transition(
    ClaimIdentity,
    blocked_by=("O-10",),
    realises=("A1-S-1",),
    variants=("no-idp",),
    revision=RevisionGate(("O-10",), ("A1-S-1",), ("DRCT",)),
)(_impersonate)


@transition(TamperInTransit, blocked_by=("M-3",), realises=("A1-T-1", "A1-D-1"))
def _tamper_in_transit(state: State, operation: TamperInTransit) -> tuple[State, Outcome] | None:
    request = operation.request
    if request.caller is None:
        return None
    return serve(state, request, Route(operation.attacker, (request.caller,), True))


@transition(EavesdropResponse, blocked_by=("M-3",), realises=("A2-I-1",))
def _eavesdrop_response(state: State, operation: EavesdropResponse) -> tuple[State, Outcome] | None:
    request = operation.request
    if request.caller is None:
        return None
    return serve(state, request, Route(request.caller, (request.caller, operation.attacker), True))


@transition(ProbeStatus, blocked_by=("M-1",), realises=("A2-I-2",))
def _probe_status(state: State, operation: ProbeStatus) -> tuple[State, Outcome] | None:
    if state.lifecycle is not Lifecycle.RUNNING:
        return None
    held = KeyIdentity(operation.victim, operation.key_name) in state.mappings
    status = Status.PSA_ERROR_NOT_PERMITTED if held else Status.PSA_ERROR_DOES_NOT_EXIST
    return state, Outcome(status.value, effects=Effects(actor=operation.attacker, namespace=operation.victim))


TokenCapture = (
    StealToken
    | GuessToken
    | SniffRequest
    | PlantEndpoint
    | MisdirectClient
    | UseUnixAccount
    | ReuseUid
    | DuplicateSpiffeId
    | SniffValidationRequest
)


def _obtain_token(state: State, operation: TokenCapture) -> tuple[State, Outcome] | None:
    if operation.attacker == operation.victim:
        return None
    tokens = state.tokens | {(operation.attacker, operation.victim)}
    return state.evolve(tokens=tokens), Outcome(None, effects=Effects(actor=operation.attacker))


transition(StealToken, blocked_by=("ASUM-5",), realises=("A1-S-1",), variants=("with-idp",))(_obtain_token)
transition(GuessToken, blocked_by=("M-2",), realises=("A1-S-2",), variants=("with-idp",))(_obtain_token)
TOKEN_CONFIGURATIONS: tuple[VariantName, ...] = ("GNRC", "DRCT", "JWTS")
"""Where a request carries a token an attacker can reuse (DSPC's identity is the connection's Unix account)."""
transition(
    SniffRequest,
    blocked_by=("M-3",),
    realises=("A1-I-1", "A1-I-2"),
    variants=("with-idp",),
    revision=RevisionGate(("M-3",), ("A1-I-1", "A1-I-2"), TOKEN_CONFIGURATIONS),
)(_obtain_token)
transition(
    PlantEndpoint,
    blocked_by=("O-9",),
    realises=("A2-S-1",),
    variants=("with-idp",),
    revision=RevisionGate(("O-9",), ("A2-S-1",), TOKEN_CONFIGURATIONS),
)(_obtain_token)
transition(
    MisdirectClient,
    blocked_by=("O-2",),
    realises=("A2-S-1",),
    variants=("with-idp",),
    revision=RevisionGate(("O-2",), ("A2-S-1",), TOKEN_CONFIGURATIONS),
)(_obtain_token)
transition(UseUnixAccount, variants=(), revision=RevisionGate((), ("A1-S-3",), ("DSPC",)))(_obtain_token)
transition(ReuseUid, variants=(), revision=RevisionGate(("O-11", "ASUM-3"), ("A1-S-4",), ("DSPC",)))(_obtain_token)
transition(DuplicateSpiffeId, variants=(), revision=RevisionGate(("O-15",), ("A1-S-1",), ("JWTS",)))(_obtain_token)
transition(SniffValidationRequest, variants=(), revision=RevisionGate(("M-9",), ("A12-I-1",), ("JWTS",)))(_obtain_token)


def _forge_tokens(
    state: State, operation: SpoofTrustBundle | TamperTrustBundle | SpoofSpiffeValidation | TamperValidationResponse
) -> tuple[State, Outcome] | None:
    forgers = state.forgers | {operation.attacker}
    return state.evolve(forgers=forgers), Outcome(None, effects=Effects(actor=operation.attacker))


transition(SpoofTrustBundle, blocked_by=("O-7",), realises=("A10-S-1",), variants=("with-idp",))(_forge_tokens)
transition(TamperTrustBundle, blocked_by=("M-3",), realises=("A10-T-1",), variants=("with-idp",))(_forge_tokens)
transition(SpoofSpiffeValidation, variants=(), revision=RevisionGate(("O-14",), ("A13-S-1", "A13-T-1"), ("JWTS",)))(
    _forge_tokens
)
transition(TamperValidationResponse, variants=(), revision=RevisionGate(("M-9",), ("A13-D-1",), ("JWTS",)))(
    _forge_tokens
)


# --------------------------------------------------------------------------------------- attacks: process (A3)
@transition(SendSignal, blocked_by=("O-0",), realises=("A3-D-1",))
def _send_signal(state: State, operation: SendSignal) -> tuple[State, Outcome] | None:
    match operation.signal:
        case Signal.SIGHUP:
            return _reload(state, Reload())
        case Signal.SIGTERM:
            return _stop(state, Lifecycle.STOPPED)
        case Signal.SIGKILL:
            return _stop(state, Lifecycle.CRASHED)


# --------------------------------------------------------------------------------------- attacks: hardware (A4/A5)
def _hardware_key(state: State, handle: Handle) -> ProviderKey | None:
    if handle.provider not in HARDWARE_PROVIDERS:
        return None
    return state.provider_keys.get(handle)


@transition(HardwareUse, blocked_by=("O-8",), realises=("A4-S-1", "A4-E-1"))
def _hardware_use(state: State, operation: HardwareUse) -> tuple[State, Outcome] | None:
    if _hardware_key(state, operation.handle) is None:
        return None
    return state, Outcome(None, effects=Effects(actor=operation.attacker, touched=frozenset({operation.handle})))


@transition(HardwareExtract, blocked_by=("O-8",), realises=("A4-I-1", "A5-I-1"))
def _hardware_extract(state: State, operation: HardwareExtract) -> tuple[State, Outcome] | None:
    key = _hardware_key(state, operation.handle)
    if key is None or not (key.attributes.exportable and key.attributes.has_private_material):
        return None
    release = Release(operation.handle, operation.attacker, False)
    effects = Effects(actor=operation.attacker, touched=frozenset({operation.handle}), releases=(release,))
    return state, Outcome(None, effects=effects)


@transition(HardwareTamper, blocked_by=("O-8",), realises=("A4-T-1", "A4-D-1"))
def _hardware_tamper(state: State, operation: HardwareTamper) -> tuple[State, Outcome] | None:
    if _hardware_key(state, operation.handle) is None:
        return None
    destroyed = state.evolve(provider_keys=state.provider_keys.without([operation.handle]))
    return destroyed, Outcome(None, effects=Effects(actor=operation.attacker, touched=frozenset({operation.handle})))


def _configure_rogue(state: State, operation: PlugRogueModule | ConfigureRogueProvider) -> tuple[State, Outcome] | None:
    if operation.provider not in CRYPTO_PROVIDERS:
        return None
    config = replace(state.config_file, rogue=state.config_file.rogue | {operation.provider})
    return state.evolve(config_file=config), Outcome(None, effects=Effects(actor=operation.attacker))


transition(PlugRogueModule, blocked_by=("O-1",), realises=("A5-S-1",))(_configure_rogue)


# --------------------------------------------------------------------------------------- attacks: mappings (A6/A7)
@transition(WriteMapping, blocked_by=("O-3",), realises=("A6-S-1", "A6-T-1"))
def _write_mapping(state: State, operation: WriteMapping) -> tuple[State, Outcome] | None:
    if operation.provider not in CRYPTO_PROVIDERS:
        return None
    identity = KeyIdentity(operation.tenant, operation.key_name)
    mappings = state.mappings.set(identity, MappingEntry(operation.provider, operation.handle))
    return state.evolve(mappings=mappings), Outcome(None, effects=Effects(actor=operation.attacker))


@transition(DeleteMapping, blocked_by=("O-3",), realises=("A7-D-2",))
def _delete_mapping(state: State, operation: DeleteMapping) -> tuple[State, Outcome] | None:
    identity = KeyIdentity(operation.tenant, operation.key_name)
    if identity not in state.mappings:
        return None
    return state.evolve(mappings=state.mappings.without([identity])), Outcome(
        None, effects=Effects(actor=operation.attacker)
    )


@transition(TamperMappingRead, blocked_by=("M-6",), realises=("A7-S-1", "A7-T-1"))
def _tamper_mapping_read(state: State, operation: TamperMappingRead) -> tuple[State, Outcome] | None:
    request = operation.request
    if request.caller is None:
        return None
    route = replace(honest_route(request), handle_override=operation.handle)
    return serve(state, request, route)


# ------------------------------------------------------------------------------------- attacks: configuration (A9)
@transition(AddConfiguredAdmin, blocked_by=("O-6",), realises=("A9-S-1", "A9-T-1"))
def _add_configured_admin(state: State, operation: AddConfiguredAdmin) -> tuple[State, Outcome] | None:
    config = replace(state.config_file, admins=state.config_file.admins | {operation.admin})
    return state.evolve(config_file=config), Outcome(None, effects=Effects(actor=operation.attacker))


@transition(SetConfiguredAuthenticator, blocked_by=("O-6",), realises=("A9-S-1", "A9-T-1"))
def _set_configured_authenticator(state: State, operation: SetConfiguredAuthenticator) -> tuple[State, Outcome] | None:
    config = replace(state.config_file, authenticator=operation.authenticator)
    return state.evolve(config_file=config), Outcome(None, effects=Effects(actor=operation.attacker))


@transition(DropConfiguredProvider, blocked_by=("O-6",), realises=("A9-D-1",))
def _drop_configured_provider(state: State, operation: DropConfiguredProvider) -> tuple[State, Outcome] | None:
    if operation.provider not in state.config_file.providers:
        return None
    providers = tuple(p for p in state.config_file.providers if p is not operation.provider)
    config = replace(state.config_file, providers=providers)
    return state.evolve(config_file=config), Outcome(None, effects=Effects(actor=operation.attacker))


transition(ConfigureRogueProvider, blocked_by=("O-6",), realises=("A9-I-2",))(_configure_rogue)
