"""A SPIFFE Workload API server (its JWT part) on a Unix socket: the seed's "Identity Provider", for tests and demos.

No SPIRE agent runs on the project's machines, so this server stands where one would: gRPC on a Unix socket, the
service definitions generated for the `spiffe` package (`spiffe._proto.workload_pb2_grpc`), and SPIRE's behaviour
for the three JWT calls the Parsec service and its clients use —

* FetchJWTSVID: JWT-SVIDs (ES256, `keys.KeyRing`) for the SPIFFE IDs the caller is registered for, selected by the
  caller's kernel-reported Unix credentials (`workloads.Registry`, `relay.PeerCredentialRelay`);
* FetchJWTBundles: the trust domain's JWK set, streamed again whenever a key is rotated, revoked or removed;
* ValidateJWTSVID: validation of a token for an audience against the current bundle (what Parsec's own JwtSvid
  authenticator calls, svc:src/authenticators/jwt_svid_authenticator/mod.rs).

Every call must carry the `workload.spiffe.io: true` metadata header, and callers with no registration are refused
with PERMISSION_DENIED "no identity issued" unless `allow_unauthenticated_verifiers` is set — both as SPIRE does.
A deployment with a real SPIRE agent points the service's `workload_endpoint` at the agent and nothing else changes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
from google.protobuf import struct_pb2

from refimpl.front.listener import PeerCredentials
from refimpl.identity_provider.keys import Clock, KeyRing
from refimpl.identity_provider.relay import PeerCredentialRelay
from refimpl.identity_provider.workloads import Registry
from refimpl.spiffe_api import JwtBundle, JwtSvid, PySpiffeError, workload_pb2, workload_pb2_grpc

_log = logging.getLogger(__name__)

SECURITY_HEADER = ("workload.spiffe.io", "true")
"""The metadata every Workload API call must carry (SPIFFE Workload Endpoint spec; SPIRE refuses calls without it)."""

_STREAM_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ServerSettings:
    """How the identity provider serves: where, for whom, token lifetime, and its key rotation schedule.

    `grace_period` (default: twice `svid_ttl`) is how long a rotated-out key stays in the bundle; it must be at least
    `svid_ttl`, or tokens signed just before a rotation would stop validating before they expire.
    """

    socket_path: Path
    registry: Registry
    svid_ttl: float = 300.0
    rotate_every: float | None = None
    grace_period: float | None = None
    allow_unauthenticated_verifiers: bool = False

    def __post_init__(self) -> None:
        if self.svid_ttl <= 0:
            raise ValueError(f"svid_ttl must be a positive number of seconds, not {self.svid_ttl}")
        if self.rotate_every is not None and self.rotate_every <= 0:
            raise ValueError(f"rotate_every must be a positive number of seconds, not {self.rotate_every}")
        if self.grace_period is not None and self.grace_period < self.svid_ttl:
            raise ValueError(
                f"grace_period ({self.grace_period} s) is shorter than svid_ttl ({self.svid_ttl} s): tokens signed "
                "just before a rotation would stop validating before they expire; raise grace_period"
            )

    @property
    def effective_grace_period(self) -> float:
        return self.grace_period if self.grace_period is not None else 2 * self.svid_ttl


class WorkloadApiServicer(workload_pb2_grpc.SpiffeWorkloadAPIServicer):
    """The JWT half of the Workload API; the X.509 calls stay UNIMPLEMENTED (the generated base class's answer)."""

    def __init__(self, settings: ServerSettings, keys: KeyRing, relay: PeerCredentialRelay) -> None:
        self._settings = settings
        self._registry = settings.registry
        self._keys = keys
        self._relay = relay
        self._stopping = threading.Event()

    def stop_streams(self) -> None:
        self._stopping.set()
        self._keys.wake_all()

    def FetchJWTSVID(self, request: workload_pb2.JWTSVIDRequest, context: grpc.ServicerContext) -> Any:
        peer = self._caller(context)
        if not request.audience:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "audience must be specified")
        identities = self._registry.identities_for(peer)
        if request.spiffe_id:
            identities = tuple(identity for identity in identities if str(identity) == request.spiffe_id)
        if not identities:
            _log.warning("no JWT-SVID for uid %d gid %d pid %d: no registration matches", peer.uid, peer.gid, peer.pid)
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "no identity issued")
        audience = list(request.audience)
        svids = []
        for identity in identities:
            token = self._keys.issue(identity, audience, self._settings.svid_ttl)
            svids.append(workload_pb2.JWTSVID(spiffe_id=str(identity), svid=token))
            _log.info("issued a JWT-SVID for %s (audience %s) to uid %d pid %d", identity, audience, peer.uid, peer.pid)
        return workload_pb2.JWTSVIDResponse(svids=svids)

    def FetchJWTBundles(self, request: workload_pb2.JWTBundlesRequest, context: grpc.ServicerContext) -> Iterator[Any]:
        self._require_identity(self._caller(context), context)
        sent = 0
        while context.is_active() and not self._stopping.is_set():
            sequence, bundle = self._keys.bundle()
            if sequence != sent:
                yield workload_pb2.JWTBundlesResponse(bundles={self._registry.trust_domain.as_spiffe_id(): bundle})
                sent = sequence
            self._keys.wait_for_change(sent, _STREAM_POLL_SECONDS)

    def ValidateJWTSVID(self, request: workload_pb2.ValidateJWTSVIDRequest, context: grpc.ServicerContext) -> Any:
        peer = self._caller(context)
        if not request.audience:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "audience must be specified")
        if not request.svid:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "svid must be specified")
        self._require_identity(peer, context)
        _, bundle_bytes = self._keys.bundle()
        try:
            bundle = JwtBundle.parse(self._registry.trust_domain, bundle_bytes)
            svid = JwtSvid.parse_and_validate(request.svid, bundle, {request.audience})
        except PySpiffeError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except Exception as error:  # a token no validator anticipated is still just an invalid token
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed token ({type(error).__name__})")
        claims = struct_pb2.Struct()
        claims.update(jwt.decode(request.svid, options={"verify_signature": False}))
        return workload_pb2.ValidateJWTSVIDResponse(spiffe_id=str(svid.spiffe_id), claims=claims)

    def _caller(self, context: grpc.ServicerContext) -> PeerCredentials:
        metadata = {item.key: item.value for item in context.invocation_metadata()}
        if metadata.get(SECURITY_HEADER[0]) != SECURITY_HEADER[1]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")
        peer = self._relay.lookup(context.peer())
        if peer is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "the caller's peer credentials are unknown")
        assert peer is not None  # context.abort raised
        return peer

    def _require_identity(self, peer: PeerCredentials, context: grpc.ServicerContext) -> None:
        if self._settings.allow_unauthenticated_verifiers or self._registry.identities_for(peer):
            return
        _log.warning("refused bundles to unregistered uid %d pid %d", peer.uid, peer.pid)
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "no identity issued")


class WorkloadApiServer:
    """The identity provider: gRPC on a private socket, the peer-credential relay on the public one, key rotation.

    Use as a context manager, or `start()` / `stop()`. `endpoint` is the URI to put in the service's
    `workload_endpoint` or a client's `SPIFFE_ENDPOINT_SOCKET`.
    """

    def __init__(self, settings: ServerSettings, clock: Clock = time.time) -> None:
        self.settings = settings
        self.keys = KeyRing(settings.effective_grace_period, clock)
        self._private_dir = Path(tempfile.mkdtemp(prefix="parsec-tm-idp-"))  # mode 0700: only our user can connect
        private_socket = self._private_dir / "grpc.sock"
        self._relay = PeerCredentialRelay(settings.socket_path, private_socket)
        self._servicer = WorkloadApiServicer(settings, self.keys, self._relay)
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="idp-grpc"))
        workload_pb2_grpc.add_SpiffeWorkloadAPIServicer_to_server(self._servicer, self._grpc)  # type: ignore[no-untyped-call]
        self._grpc.add_insecure_port(f"unix:{private_socket}")
        self._stop_rotation = threading.Event()
        self._rotator: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"unix://{self.settings.socket_path.resolve()}"

    def start(self) -> WorkloadApiServer:
        """Serve; if the public socket cannot be created, release everything and raise (OSError)."""
        try:
            self._grpc.start()
            self._relay.start()
        except BaseException:
            self.stop()
            raise
        self._rotator = threading.Thread(target=self._rotation_loop, name="idp-rotation", daemon=True)
        self._rotator.start()
        _log.info(
            "Workload API serving trust domain %s at %s (%d registrations, JWT-SVID TTL %g s, signing key %s)",
            self.settings.registry.trust_domain,
            self.endpoint,
            len(self.settings.registry.workloads),
            self.settings.svid_ttl,
            self.keys.current.kid,
        )
        return self

    def stop(self) -> None:
        self._stop_rotation.set()
        if self._rotator is not None:
            self._rotator.join()
        self._relay.stop()
        self._servicer.stop_streams()
        self._grpc.stop(grace=None).wait()
        shutil.rmtree(self._private_dir, ignore_errors=True)

    def __enter__(self) -> WorkloadApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _rotation_loop(self) -> None:
        tick = min(1.0, self.settings.svid_ttl / 4)
        last_rotation = self.keys.clock()
        while not self._stop_rotation.wait(tick):
            now = self.keys.clock()
            if self.settings.rotate_every is not None and now - last_rotation >= self.settings.rotate_every:
                new_key = self.keys.rotate()
                last_rotation = now
                _log.info("rotated the JWT signing key: now signing with %s", new_key.kid)
            if self.keys.prune():
                _log.info("removed expired keys from the JWT bundle: bundle now holds %s", ", ".join(self.keys.kids))
