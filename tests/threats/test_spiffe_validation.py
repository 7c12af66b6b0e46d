"""The SPIFFE validation flow of Parsec's current threat model (2024-03-25 revision, JWTS configuration): attackers
A12 (on the validation request from the service to the SPIFFE implementation) and A13 (on its response), answered
by M-9 (the Workload API is reached over an IPC mechanism that keeps messages confidential and intact).

In this reference service the "validation" is the JWT bundle stream of the Workload API (FetchJWTBundles, see
`refimpl.authenticators.jwt_svid`): tokens are checked locally against the streamed bundles, so the request carries
no client token and the response is the bundle set. Every Workload API here is real gRPC on a real Unix socket:
the project's own (`WorkloadApiServer`) or one under the attacker's control (`HostileWorkloadApi`).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from spiffe._proto import workload_pb2_grpc

from refimpl.authenticators.jwt_svid import JwtSvidAuthenticator
from refimpl.config import AuthenticatorConfig
from refimpl.errors import ConfigError, ParsecError
from refimpl.front.listener import PeerCredentials
from refimpl.identity_provider.keys import KeyRing
from refimpl.ids import Status
from refimpl.spiffe_api import JwtBundleSet, SpiffeId
from tests.identity_provider.parts import TENANT_A, WAIT, HostileWorkloadApi, fetch_token, running_idp, short_tempdir

PEER = PeerCredentials(pid=1, uid=1000, gid=1000)
DOMAIN_ID = "spiffe://example.org"


class _Recorder(grpc.ServerInterceptor):  # type: ignore[misc]
    """Records the full name of every RPC the Workload API receives."""

    def __init__(self) -> None:
        self.methods: list[str] = []

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        self.methods.append(details.method)
        return continuation(details)


@contextmanager
def _workload_api(socket_path: Path, servicer: HostileWorkloadApi, recorder: _Recorder) -> Iterator[None]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), interceptors=[recorder])
    workload_pb2_grpc.add_SpiffeWorkloadAPIServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"unix:{socket_path}")
    server.start()
    try:
        yield
    finally:
        servicer.stop()
        server.stop(grace=None).wait()


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    with short_tempdir() as path:
        yield path


def _trusts(kid: str) -> Callable[[JwtBundleSet | None], bool]:
    return lambda bundles: bundles is not None and any(kid in bundle.jwt_authorities for bundle in bundles.bundles)


def _refused(authenticator: JwtSvidAuthenticator, token: str) -> ParsecError:
    with pytest.raises(ParsecError) as refused:
        authenticator.identify(token.encode(), PEER)
    assert refused.value.status == Status.AUTHENTICATION_ERROR
    return refused.value


@pytest.mark.threat("A12-I-1", "M-9")
def test_no_client_token_travels_to_the_spiffe_implementation(socket_dir: Path) -> None:
    """A12-I-1: an attacker on the validation request could steal the token in it; here the request carries none."""
    ring, recorder, servicer = KeyRing(grace_period=600), _Recorder(), HostileWorkloadApi()
    with _workload_api(socket_dir / "agent.sock", servicer, recorder):
        servicer.serve({DOMAIN_ID: ring.bundle()[1]})
        authenticator = JwtSvidAuthenticator(f"unix://{socket_dir / 'agent.sock'}")
        try:
            assert authenticator.watcher.wait_for(_trusts(ring.current.kid), WAIT)
            tokens = [ring.issue(SpiffeId(TENANT_A), ["parsec"], ttl=300) for _ in range(3)]
            assert [authenticator.identify(t.encode(), PEER).name for t in tokens] == [TENANT_A] * 3
        finally:
            authenticator.close()
    assert recorder.methods, "the authenticator never reached the Workload API"
    assert set(recorder.methods) == {"/SpiffeWorkloadAPI/FetchJWTBundles"}, recorder.methods


@pytest.mark.threat("A12-I-1", "A12-D-1", "A13-D-1", "M-9")
@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:8081", "http://localhost/agent", "unix:relative/agent.sock"])
def test_the_workload_api_is_reached_over_a_unix_socket_only(endpoint: str) -> None:
    """M-9: the channel is a Unix socket (kernel-local, peer-attested); any other endpoint is refused at start-up."""
    with pytest.raises(ConfigError) as error:
        JwtSvidAuthenticator.from_config(AuthenticatorConfig("JwtSvid", (), endpoint))
    assert error.value.key == "authenticator.workload_endpoint"


@pytest.mark.threat("A12-I-1", "A13-D-1", "M-9")
def test_the_real_workload_api_serves_only_over_its_unix_socket_to_attested_peers(socket_dir: Path) -> None:
    path = socket_dir / "agent.sock"
    with running_idp(path) as idp:
        assert idp.endpoint == f"unix://{path}"
        assert stat.S_ISSOCK(path.stat().st_mode)
        authenticator = JwtSvidAuthenticator(idp.endpoint)
        try:
            assert authenticator.watcher.wait_for(lambda bundles: bundles is not None, WAIT)
            assert authenticator.identify(fetch_token(idp.endpoint, TENANT_A).encode(), PEER).name == TENANT_A
        finally:
            authenticator.close()


class _Failing(HostileWorkloadApi):
    """A Workload API whose every bundle request fails, as a tampered or dropped validation request would."""

    def FetchJWTBundles(self, request: Any, context: Any) -> Iterator[Any]:
        context.abort(grpc.StatusCode.UNAVAILABLE, "request altered in transit")
        yield from ()


@pytest.mark.threat("A12-D-1", "A12-D-2", "M-9")
def test_a_failing_validation_request_fails_closed_at_once(socket_dir: Path) -> None:
    """A12-D-1/A12-D-2: a validation that fails (altered request, overloaded or crashed SPIFFE implementation) refuses
    JwtSvid requests at once with AuthenticationError: never a hang, never an identity."""
    ring = KeyRing(grace_period=600)
    token = ring.issue(SpiffeId(TENANT_A), ["parsec"], ttl=300)
    recorder = _Recorder()
    with _workload_api(socket_dir / "agent.sock", _Failing(), recorder):
        authenticator = JwtSvidAuthenticator(f"unix://{socket_dir / 'agent.sock'}")
        try:
            refusal = _refused(authenticator, token)
            assert "no trusted JWT bundle" in refusal.detail
            assert authenticator.failures.failures(PEER.uid) == 0, "an outage is not the caller's failed guess"
        finally:
            authenticator.close()


@pytest.mark.threat("A13-D-1", "M-9")
def test_a_response_cannot_make_a_token_validate_without_the_signing_key(socket_dir: Path) -> None:
    """A13-D-1: a response that pretends success must carry the key that signed the token, in the token's trust
    domain; a bundle of another trust domain, or without the key, validates nothing."""
    legitimate, attacker = KeyRing(grace_period=600), KeyRing(grace_period=600)
    token = legitimate.issue(SpiffeId(TENANT_A), ["parsec"], ttl=300)
    servicer = HostileWorkloadApi()
    with _workload_api(socket_dir / "agent.sock", servicer, _Recorder()):
        authenticator = JwtSvidAuthenticator(f"unix://{socket_dir / 'agent.sock'}")
        try:
            servicer.serve({"spiffe://other.org": legitimate.bundle()[1]})
            assert authenticator.watcher.wait_for(_trusts(legitimate.current.kid), WAIT)
            _refused(authenticator, token)  # the right key, but for another trust domain
            servicer.serve({DOMAIN_ID: attacker.bundle()[1]})
            assert authenticator.watcher.wait_for(_trusts(attacker.current.kid), WAIT)
            _refused(authenticator, token)  # the right domain, without the key
            servicer.serve({DOMAIN_ID: legitimate.bundle()[1]})
            assert authenticator.watcher.wait_for(_trusts(legitimate.current.kid), WAIT)
            assert authenticator.identify(token.encode(), PEER).name == TENANT_A
        finally:
            authenticator.close()


GARBLED_RESPONSES: dict[str, dict[str, bytes]] = {
    "truncated-json": {DOMAIN_ID: b'{"keys": [{"kty": "EC"'},
    "not-utf8": {DOMAIN_ID: b"\xc3\x28\xa0\xa1"},
    "nested": {DOMAIN_ID: b"[" * 50_000 + b"]" * 50_000},
    "huge-number": {DOMAIN_ID: b'{"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "' + b"A" * 100_000 + b'"}]}'},
    "key-as-string": {DOMAIN_ID: json.dumps({"keys": ["kty=EC"]}).encode()},
}


@pytest.mark.threat("A13-D-2", "A13-E-1", "M-9", "M-5")
@pytest.mark.parametrize("name", sorted(GARBLED_RESPONSES))
def test_a_garbled_response_is_refused_without_a_crash_and_the_next_good_one_is_trusted(
    socket_dir: Path, name: str
) -> None:
    """A13-D-2/A13-E-1: a response shaped to crash the parser or run code is refused; the service keeps following
    the stream and trusts nothing from it."""
    ring = KeyRing(grace_period=600)
    token = ring.issue(SpiffeId(TENANT_A), ["parsec"], ttl=300)
    servicer = HostileWorkloadApi()
    with _workload_api(socket_dir / "agent.sock", servicer, _Recorder()):
        authenticator = JwtSvidAuthenticator(f"unix://{socket_dir / 'agent.sock'}")
        try:
            servicer.serve({DOMAIN_ID: ring.bundle()[1]})
            assert authenticator.watcher.wait_for(_trusts(ring.current.kid), WAIT)
            version = servicer.serve(GARBLED_RESPONSES[name])
            assert servicer.wait_sent(version)
            assert authenticator.watcher.wait_for(lambda bundles: not _trusts(ring.current.kid)(bundles), WAIT)
            _refused(authenticator, token)
            servicer.serve({DOMAIN_ID: ring.bundle()[1]})
            assert authenticator.watcher.wait_for(_trusts(ring.current.kid), WAIT)
            assert authenticator.identify(token.encode(), PEER).name == TENANT_A
        finally:
            authenticator.close()
