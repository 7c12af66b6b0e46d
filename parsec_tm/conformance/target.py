"""What the conformance machine drives: a Parsec-protocol service behind a Unix socket, owned or not.

A `Target` sends one request as one tenant and reports the answer
(`Reply`); the machine compares it with the model. Two kinds:

* `SocketTarget` — any running service it does not own (the reference service or a real Parsec): it discovers
  the providers and authenticator, uses fresh random tenant names for every run of the machine (Direct), or
  key names under a fresh prefix (Unix peer credentials: the tenant is the caller's own UID; JwtSvid: the tenants
  are the SPIFFE IDs the caller's Unix user is registered for at the Workload API), and touches only keys it
  created. No life-cycle rules.
* `OwnedTarget` — a `ServiceProcess` it started (Direct, Unix peer credentials or JwtSvid): everything above plus
  SIGHUP reload (good and bad), graceful restart, kill -9
  and, when the service has the fault-injection hook, a crash between the provider write and the mapping write.
  With Unix peer credentials its tenants are distinct real Unix users: a request is sent with the effective UID
  of the tenant's user (the kernel records the connecting process's effective UID in SO_PEERCRED). With JwtSvid
  they are the SPIFFE IDs this Unix user is registered for (one of them the service's admin), and every start or
  reload waits until the service trusts the Workload API's bundle.

Requests go through the client library (`refimpl.client.BasicClient.send`), one connection per request.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from model.nouns import AuthName, Tenant
from model.nouns import ProviderId as ModelProviderId
from parsec_tm.conformance.service import ServiceProcess
from refimpl import operations as ops
from refimpl.client import BasicClient, ClientError, NoAuth, ServiceUnreachable
from refimpl.client.auth import JWT_SVID_AUDIENCE, Authentication, Direct, UnixPeerCredentials
from refimpl.client.jwt_svid import JwtSvidAuthentication
from refimpl.errors import ParsecError
from refimpl.faults import AFTER_MAPPING_REMOVAL, AFTER_PROVIDER_WRITE
from refimpl.ids import AuthType, ProviderId, Status
from refimpl.spiffe_api import PySpiffeError, WorkloadApiClient
from refimpl.wire.codec import decode_result

AuthMode = Literal["direct", "peer", "jwt-svid"]
"""The authenticators the fuzzer can act through: Direct (names), Unix peer credentials (UIDs) and JwtSvid
(SPIFFE IDs proved with JWT-SVIDs from a Workload API)."""

MODEL_AUTH: dict[AuthMode, AuthName] = {"direct": "direct", "peer": "peer", "jwt-svid": "jwt-svid"}
WIRE_AUTH: dict[AuthMode, AuthType] = {
    "direct": AuthType.DIRECT,
    "peer": AuthType.UNIX_PEER_CREDENTIALS,
    "jwt-svid": AuthType.JWT_SVID,
}
DEFAULT_TENANTS = 3
REQUEST_TIMEOUT = 30.0
"""Seconds per request: far above any provider's latency, so a timeout means the service hung."""

FAULT_POINTS = (AFTER_PROVIDER_WRITE, AFTER_MAPPING_REMOVAL)
"""The reference service's test-only crash points (`refimpl.faults`), armed through PARSEC_TM_FAULT_FILE."""
CRASH_TIMEOUT = 10.0
"""Seconds for an armed crash point to kill the service once its request was sent."""
TRUST_TIMEOUT = 30.0
"""Seconds for a started JwtSvid service to fetch the Workload API's bundle."""


class TargetError(Exception):
    """The target cannot be used as asked (unreachable, other authenticator, no known provider)."""


@dataclass(frozen=True)
class Seat:
    """One identity the fuzzer sends requests as: the model's tenant, the client's auth, the UID to connect as."""

    label: str
    tenant: Tenant
    auth: Authentication
    uid: int | None = None


@dataclass(frozen=True)
class Reply:
    """The service's answer: its status (None: no answer, `error` says why) and the decoded result on Success."""

    status: Status | None
    result: Any = None
    error: str = ""

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        return self.status.parsec_name + (f" ({self.error})" if self.error else "")


@dataclass(frozen=True)
class Session:
    """What one run of the machine uses: its tenants, its admin (if any) and the prefix of its key names.

    `shared` lists tenants that may own keys this run did not create (the caller's own UID on a service the
    fuzzer does not own): their ListClients membership is not predictable and DeleteClient is never sent for them.
    """

    seats: tuple[Seat, ...]
    admin: Seat | None
    key_prefix: str
    shared: frozenset[Tenant] = frozenset()

    def wire_name(self, key_name: str) -> str:
        return self.key_prefix + key_name

    def model_name(self, wire_name: str) -> str | None:
        """The model's key name for a listed key, or None when the key is not this run's."""
        if wire_name.startswith(self.key_prefix):
            return wire_name[len(self.key_prefix) :]
        return None

    @property
    def tenant_names(self) -> frozenset[str]:
        return frozenset(seat.tenant.name for seat in self.seats)


class Target(ABC):
    """A service the machine can send requests to."""

    auth_mode: AuthMode
    providers: tuple[ModelProviderId, ...]
    admins: frozenset[str]
    owns_service: bool = False
    supports_faults: bool = False
    recipe: dict[str, Any] | None = None
    """How a replay file re-creates this target (`trace.replay`), or None when it cannot."""

    def __init__(self, endpoint: str, auth_mode: AuthMode) -> None:
        self.endpoint = endpoint
        self.auth_mode = auth_mode
        self.client = BasicClient(endpoint, auth=NoAuth(), timeout=REQUEST_TIMEOUT)
        self.run_id = secrets.token_hex(3)
        self._sessions = 0

    @property
    def auth_name(self) -> AuthName:
        return MODEL_AUTH[self.auth_mode]

    @abstractmethod
    def describe(self) -> str:
        """One line for reports: where the service is and how the fuzzer talks to it."""

    @abstractmethod
    def _seats(self, session_id: str) -> tuple[tuple[Seat, ...], Seat | None, frozenset[Tenant]]:
        """The tenants, the admin and the shared tenants of a new session."""

    # -- sessions --------------------------------------------------------------------------------------------

    def open_session(self) -> Session:
        """Fresh tenants (or a fresh key prefix) for one run of the machine."""
        self._sessions += 1
        session_id = f"{self.run_id}{self._sessions:04x}"
        seats, admin, shared = self._seats(session_id)
        return Session(seats, admin, f"{session_id}-", shared)

    def close_session(self, session: Session, keys: Iterable[tuple[Seat, ModelProviderId, str]]) -> None:
        """Destroy the keys the run left (seat, provider, model key name); failures are ignored (best effort)."""
        for seat, provider, key_name in keys:
            self.send(seat, provider, ops.DestroyKey(session.wire_name(key_name)))

    # -- requests --------------------------------------------------------------------------------------------

    def send(self, seat: Seat | None, provider: int, operation: ops.Operation) -> Reply:
        """One request on a fresh connection; never raises for what the service does."""
        opcode = ops.OPCODE_OF[type(operation)]
        auth = seat.auth if seat is not None else NoAuth()
        try:
            with effective_uid(seat.uid if seat is not None else None):
                response = self.client.send(provider, opcode, operation, auth)
        except ServiceUnreachable as error:
            return Reply(None, error=f"unreachable: {error.__cause__ or error}")
        except ClientError as error:
            return Reply(None, error=f"the reply could not be read: {error.status.parsec_name}")
        except OSError as error:
            return Reply(None, error=f"connection failed: {error!r}")
        if response.header.opcode != opcode:
            return Reply(None, error=f"the reply's opcode is {response.header.opcode:#x}, not {opcode:#x}")
        if response.status is not Status.SUCCESS:
            return Reply(response.status)
        try:
            return Reply(Status.SUCCESS, decode_result(opcode, response.body))
        except ParsecError as error:
            return Reply(None, error=f"the Success body does not decode ({error.status.parsec_name})")

    def discover_providers(self) -> tuple[ModelProviderId, ...]:
        """The crypto providers the service lists, in its order, restricted to those the model knows."""
        reply = self.send(None, ProviderId.CORE, ops.ListProviders())
        if reply.status is not Status.SUCCESS:
            raise TargetError(f"ListProviders on {self.endpoint} answered {reply.describe()}")
        known = {int(provider) for provider in ModelProviderId if provider is not ModelProviderId.CORE}
        providers = tuple(ModelProviderId(int(info.id)) for info in reply.result.providers if int(info.id) in known)
        if not providers:
            raise TargetError(f"{self.endpoint} has no provider the model knows (MbedCrypto, Pkcs11 or Tpm)")
        return providers

    def check_authenticator(self) -> None:
        """TargetError unless the service's authenticator is the one the fuzzer was told to use."""
        reply = self.send(None, ProviderId.CORE, ops.ListAuthenticators())
        if reply.status is not Status.SUCCESS:
            raise TargetError(f"ListAuthenticators on {self.endpoint} answered {reply.describe()}")
        listed = [AuthType(int(info.id)) for info in reply.result.authenticators]
        if WIRE_AUTH[self.auth_mode] not in listed:
            names = ", ".join(auth.name for auth in listed) or "none"
            wanted = {auth: mode for mode, auth in WIRE_AUTH.items()}
            hint = ", ".join(wanted[auth] for auth in listed if auth in wanted)
            raise TargetError(
                f"{self.endpoint} authenticates with {names}, not {WIRE_AUTH[self.auth_mode].name}"
                + (f"; use --auth {hint}" if hint else "; the fuzzer supports direct, peer and jwt-svid only")
            )

    # -- life cycle (owned services only) ----------------------------------------------------------------------

    def reload(self) -> None:
        raise TargetError(f"{self.describe()}: the fuzzer does not own this service")

    def bad_reload(self) -> None:
        raise TargetError(f"{self.describe()}: the fuzzer does not own this service")

    def stop(self, graceful: bool) -> None:
        raise TargetError(f"{self.describe()}: the fuzzer does not own this service")

    def start(self) -> None:
        raise TargetError(f"{self.describe()}: the fuzzer does not own this service")

    def arm_fault(self, point: str) -> None:
        raise TargetError(f"{self.describe()}: fault injection needs an owned service with the hook")

    def disarm_fault(self) -> None:
        raise TargetError(f"{self.describe()}: fault injection needs an owned service with the hook")

    def await_crash(self) -> None:
        raise TargetError(f"{self.describe()}: fault injection needs an owned service with the hook")

    def close(self) -> None:  # noqa: B027 - nothing to release for a service the fuzzer does not own
        """Release what the target started."""


@contextlib.contextmanager
def effective_uid(uid: int | None) -> Iterator[None]:
    """Run the block with effective UID `uid` (the peer credentials of a connection made in it)."""
    current = os.geteuid()
    if uid is None or uid == current:
        yield
        return
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(current)


class SocketTarget(Target):
    """A running service the fuzzer does not own; it never touches a key it did not create.

    With Unix peer credentials and JwtSvid the tenants are fixed (the caller's UID; the SPIFFE IDs its Unix user is
    registered for): they are `shared`, may own keys of other programs, and only key names carry this run's prefix.
    """

    def __init__(
        self,
        endpoint: str,
        auth_mode: AuthMode,
        tenants: int = DEFAULT_TENANTS,
        workload_endpoint: str | None = None,
    ) -> None:
        super().__init__(endpoint, auth_mode)
        if auth_mode == "jwt-svid" and not workload_endpoint:
            raise TargetError(
                "JwtSvid tenants need the SPIFFE Workload API endpoint (e.g. unix:///run/spire/agent.sock)"
            )
        if auth_mode != "jwt-svid" and workload_endpoint:
            raise TargetError(f"a Workload API endpoint is only used with JwtSvid tenants, not with {auth_mode}")
        ping = self.send(None, ProviderId.CORE, ops.Ping())
        if ping.status is not Status.SUCCESS:
            raise TargetError(f"no Parsec service answers Ping at {endpoint}: {ping.describe()}")
        self.check_authenticator()
        self.providers = self.discover_providers()
        self.tenant_count = tenants
        self.fixed_seats: tuple[Seat, ...] = ()
        if auth_mode == "peer":
            self.fixed_seats = (self._own_seat(),)
        elif auth_mode == "jwt-svid":
            assert workload_endpoint is not None
            self.fixed_seats = jwt_svid_seats(workload_endpoint)
        try:
            self.admins = self._probe_admins()
        except TargetError:
            self.close()
            raise
        self.recipe = {"socket": endpoint.removeprefix("unix:"), "auth": auth_mode, "tenants": tenants}
        if workload_endpoint:
            self.recipe["workload_endpoint"] = workload_endpoint

    def describe(self) -> str:
        return f"{self.endpoint} (not owned; auth {self.auth_mode})"

    def _own_seat(self) -> Seat:
        uid = os.geteuid()
        return Seat("t0", Tenant("peer", str(uid)), UnixPeerCredentials(uid))

    def _probe_admins(self) -> frozenset[str]:
        """Which fixed tenants are among the service's admins: ListClients tells (it changes nothing).

        One request per tenant, each with a valid identity, so JwtSvid's failure count (M-2) is never spent here
        beyond the single refusal that stops the probe when the service does not trust the Workload API yet."""
        admins: set[str] = set()
        for seat in self.fixed_seats:
            reply = self.send(seat, ProviderId.CORE, ops.ListClients())
            if reply.status is Status.SUCCESS:
                admins.add(seat.tenant.name)
            elif reply.status is not Status.ADMIN_OPERATION:
                hint = ""
                if reply.status is Status.AUTHENTICATION_ERROR and self.auth_mode == "jwt-svid":
                    hint = "; check that the service's workload_endpoint is this Workload API and it has its bundle"
                raise TargetError(f"ListClients as {seat.tenant} answered {reply.describe()}{hint}")
        return frozenset(admins)

    def _seats(self, session_id: str) -> tuple[tuple[Seat, ...], Seat | None, frozenset[Tenant]]:
        if self.fixed_seats:
            return self.fixed_seats, None, frozenset(seat.tenant for seat in self.fixed_seats)
        seats = tuple(
            Seat(f"t{index}", Tenant("direct", f"ptm-{session_id}-t{index}"), Direct(f"ptm-{session_id}-t{index}"))
            for index in range(self.tenant_count)
        )
        return seats, None, frozenset()

    def open_session(self) -> Session:
        """A fresh key prefix; keys an earlier session of this run left to fixed tenants are destroyed first (only
        this run's: the service is not the fuzzer's, so keys of other programs are never touched)."""
        for seat in self.fixed_seats:
            self._destroy_run_keys(seat)
        return super().open_session()

    def _destroy_run_keys(self, seat: Seat) -> None:
        reply = self.send(seat, ProviderId.CORE, ops.ListKeys())
        if reply.status is not Status.SUCCESS:
            raise TargetError(f"cannot list the keys of {seat.tenant} to start afresh: {reply.describe()}")
        for info in reply.result.keys:
            if info.name.startswith(self.run_id):
                self.send(seat, int(info.provider_id), ops.DestroyKey(info.name))

    def close(self) -> None:
        """Drop the Workload API connections of JwtSvid tenants."""
        for seat in self.fixed_seats:
            if isinstance(seat.auth, JwtSvidAuthentication):
                seat.auth.close()


def jwt_svid_seats(workload_endpoint: str) -> tuple[Seat, ...]:
    """One seat per SPIFFE ID the caller's Unix user is registered for (one JWT-SVID each, as SPIRE answers)."""
    try:
        with WorkloadApiClient(workload_endpoint, default_timeout=REQUEST_TIMEOUT) as client:
            svids = client.fetch_jwt_svids({JWT_SVID_AUDIENCE})
    except PySpiffeError as error:
        raise TargetError(
            f"no JWT-SVIDs from the Workload API at {workload_endpoint}: {error}. Check that the agent runs there "
            "and that this Unix user is registered with it"
        ) from error
    identities = sorted({str(svid.spiffe_id) for svid in svids})
    if not identities:
        raise TargetError(f"the Workload API at {workload_endpoint} registers no SPIFFE ID for this Unix user")
    return tuple(
        Seat(f"t{index}", Tenant("jwt-svid", identity), JwtSvidAuthentication(workload_endpoint, identity))
        for index, identity in enumerate(identities)
    )


@dataclass
class PeerUsers:
    """Unix users whose UIDs act as tenants of an owned service configured with Unix peer credentials."""

    uids: tuple[int, ...]
    admin_uid: int = field(default_factory=os.geteuid)


class OwnedTarget(Target):
    """A service process the fuzzer started and may reload, restart and kill."""

    owns_service = True

    def __init__(
        self,
        process: ServiceProcess,
        auth_mode: AuthMode,
        *,
        admin: str = "",
        peer_users: PeerUsers | None = None,
        tenants: int = DEFAULT_TENANTS,
        fault_file: Path | None = None,
        owned_directory: Path | None = None,
        workload_endpoint: str | None = None,
    ) -> None:
        super().__init__(process.endpoint, auth_mode)
        self.owned_directory = owned_directory
        if auth_mode == "jwt-svid" and not (workload_endpoint and admin):
            raise TargetError("an owned JwtSvid service needs the Workload API endpoint and its admin's SPIFFE ID")
        if auth_mode == "peer" and (peer_users is None or not peer_users.uids):
            raise TargetError("an owned service with Unix peer credentials needs the UIDs of its tenant users")
        self.jwt_seats: tuple[Seat, ...] = ()
        if auth_mode == "jwt-svid":
            assert workload_endpoint is not None
            self.jwt_seats = jwt_svid_seats(workload_endpoint)
            if admin not in {seat.tenant.name for seat in self.jwt_seats}:
                raise TargetError(f"the Workload API at {workload_endpoint} does not register {admin} for this user")
        self.process = process
        self.peer_users = peer_users
        self.tenant_count = tenants
        self.admin_name = str(peer_users.admin_uid) if peer_users is not None and auth_mode == "peer" else admin
        self.admins = frozenset({self.admin_name}) if self.admin_name else frozenset()
        self.fault_file = fault_file
        self.supports_faults = fault_file is not None
        if not process.running:
            process.start()
        self.wait_until_trusted()
        self.check_authenticator()
        self.providers = self.discover_providers()

    def describe(self) -> str:
        return f"{self.endpoint} (owned; auth {self.auth_mode}; config {self.process.config_path})"

    def wait_until_trusted(self) -> None:
        """With JwtSvid, block until the (re)started service trusts the Workload API's bundle: it fetches it after
        READY=1, and refuses every token until then. Those refusals are not guesses, so they spend no failure count.
        """
        if not self.jwt_seats:
            return
        deadline = time.monotonic() + TRUST_TIMEOUT
        while True:
            reply = self.send(self.jwt_seats[0], ProviderId.CORE, ops.ListKeys())
            if reply.status is not Status.AUTHENTICATION_ERROR:
                return
            if time.monotonic() > deadline:
                raise TargetError(f"{self.describe()} did not trust the Workload API's bundle in {TRUST_TIMEOUT} s")
            time.sleep(0.05)

    def _admin_seat(self) -> Seat | None:
        if not self.admin_name:
            return None
        if self.auth_mode == "jwt-svid":
            seat = next(seat for seat in self.jwt_seats if seat.tenant.name == self.admin_name)
            return Seat("admin", seat.tenant, seat.auth)
        if self.auth_mode == "peer":
            uid = int(self.admin_name)
            return Seat("admin", Tenant("peer", self.admin_name), UnixPeerCredentials(uid), uid)
        return Seat("admin", Tenant("direct", self.admin_name), Direct(self.admin_name))

    def _seats(self, session_id: str) -> tuple[tuple[Seat, ...], Seat | None, frozenset[Tenant]]:
        if self.auth_mode == "jwt-svid":
            tenants = [seat for seat in self.jwt_seats if seat.tenant.name != self.admin_name][: self.tenant_count]
            seats = tuple(Seat(f"t{index}", seat.tenant, seat.auth) for index, seat in enumerate(tenants))
        elif self.auth_mode == "peer":
            assert self.peer_users is not None
            seats = tuple(
                Seat(f"t{index}", Tenant("peer", str(uid)), UnixPeerCredentials(uid), uid)
                for index, uid in enumerate(self.peer_users.uids[: self.tenant_count])
            )
        else:
            seats = tuple(
                Seat(f"t{index}", Tenant("direct", f"ptm-{session_id}-t{index}"), Direct(f"ptm-{session_id}-t{index}"))
                for index in range(self.tenant_count)
            )
        return seats, self._admin_seat(), frozenset()

    def open_session(self) -> Session:
        """A new run starts on a running service; with peer credentials the tenants' old keys are destroyed first."""
        if not self.process.running:
            self.start()
        session = super().open_session()
        if self.auth_mode in ("peer", "jwt-svid"):
            for seat in session.seats:
                self._destroy_all_keys(seat)
        return session

    def _destroy_all_keys(self, seat: Seat) -> None:
        reply = self.send(seat, ProviderId.CORE, ops.ListKeys())
        if reply.status is not Status.SUCCESS:
            raise TargetError(f"cannot list the keys of {seat.tenant} to start afresh: {reply.describe()}")
        for info in reply.result.keys:
            self.send(seat, int(info.provider_id), ops.DestroyKey(info.name))

    def reload(self) -> None:
        self.process.reload()
        self.wait_until_trusted()

    def bad_reload(self) -> None:
        self.process.bad_reload()
        self.wait_until_trusted()

    def stop(self, graceful: bool) -> None:
        self.process.stop(signal.SIGTERM if graceful else signal.SIGKILL)

    def start(self) -> None:
        self.process.start()
        self.wait_until_trusted()

    def arm_fault(self, point: str) -> None:
        if self.fault_file is None:
            raise TargetError(f"{self.describe()}: started without a fault file")
        if point not in FAULT_POINTS:
            raise ValueError(f"unknown crash point {point!r}; one of {', '.join(FAULT_POINTS)}")
        self.fault_file.write_text(point)

    def disarm_fault(self) -> None:
        """Remove the fault file (the service removes it itself when the point fires)."""
        if self.fault_file is not None:
            self.fault_file.unlink(missing_ok=True)

    def await_crash(self) -> None:
        """The armed crash point fired: wait for the process to be gone."""
        self.process.wait_exit(timeout=CRASH_TIMEOUT)

    def close(self) -> None:
        """Stop the service; remove its directory if the target created it; drop the Workload API connections."""
        self.process.stop()
        for seat in self.jwt_seats:
            if isinstance(seat.auth, JwtSvidAuthentication):
                seat.auth.close()
        if self.owned_directory is not None:
            shutil.rmtree(self.owned_directory, ignore_errors=True)
