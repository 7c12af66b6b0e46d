"""The Workload API server over a real Unix socket with real gRPC: who gets which identity, and SPIRE's refusals."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import grpc
import jwt
import pytest
from spiffe import SpiffeId, WorkloadApiClient
from spiffe._proto import workload_pb2, workload_pb2_grpc
from spiffe.workloadapi.errors import ValidateJwtSvidError

from refimpl.front.listener import PeerCredentials
from refimpl.identity_provider.server import ServerSettings, WorkloadApiServer
from refimpl.identity_provider.workloads import Registry, parse_workload
from tests.identity_provider.parts import (
    OTHER_UID,
    REGISTERED_UID,
    SERVICE_ID,
    TENANT_A,
    TENANT_B,
    WAIT,
    fetch_token,
    run_as,
    running_idp,
)

CHILD = """
import json, sys
from spiffe import SpiffeId, WorkloadApiClient
endpoint, subject = sys.argv[1], sys.argv[2]
client = WorkloadApiClient(endpoint, default_timeout=10)
result = {"uid": __import__("os").getuid()}
try:
    result["svid"] = str(client.fetch_jwt_svid({"parsec"}, SpiffeId(subject) if subject else None).spiffe_id)
except Exception as error:
    result["svid_error"] = str(error)
try:
    result["bundles"] = sorted(str(bundle.trust_domain) for bundle in client.fetch_jwt_bundles().bundles)
except Exception as error:
    result["bundles_error"] = str(error)
print(json.dumps(result))
"""


def as_user(uid: int, endpoint: str, subject: str = "") -> dict[str, object]:
    completed = run_as(uid, CHILD, endpoint, subject)
    assert completed.returncode == 0, completed.stderr
    result: dict[str, object] = json.loads(completed.stdout)
    assert result["uid"] == uid
    return result


def test_a_registered_caller_gets_every_spiffe_id_it_is_entitled_to(idp: WorkloadApiServer) -> None:
    with WorkloadApiClient(idp.endpoint, default_timeout=10) as client:
        svids = client.fetch_jwt_svids({"parsec"})
        assert [str(svid.spiffe_id) for svid in svids] == [SERVICE_ID, TENANT_A, TENANT_B]
        chosen = client.fetch_jwt_svid({"parsec", "other"}, SpiffeId(TENANT_A))
    assert str(chosen.spiffe_id) == TENANT_A
    claims = jwt.decode(chosen.token, options={"verify_signature": False})
    assert sorted(claims["aud"]) == ["other", "parsec"]
    assert claims["exp"] - claims["iat"] == idp.settings.svid_ttl


def test_the_caller_is_identified_by_its_kernel_uid_not_by_what_it_asks_for(idp: WorkloadApiServer) -> None:
    """A real second Unix user registered for tenant-b gets tenant-b, and asking for tenant-a gets it nothing."""
    registered = as_user(REGISTERED_UID, idp.endpoint)
    assert registered["svid"] == TENANT_B
    assert registered["bundles"] == ["example.org"]
    impersonating = as_user(REGISTERED_UID, idp.endpoint, TENANT_A)
    assert "svid" not in impersonating
    assert "PERMISSION_DENIED" in str(impersonating["svid_error"])


def test_an_unregistered_unix_user_gets_no_identity_and_no_bundle(idp: WorkloadApiServer) -> None:
    stranger = as_user(OTHER_UID, idp.endpoint)
    assert "svid" not in stranger and "bundles" not in stranger
    assert "no identity issued" in str(stranger["svid_error"])
    assert "no identity issued" in str(stranger["bundles_error"])


def test_unauthenticated_verifiers_get_bundles_but_still_no_identity(socket_dir: Path) -> None:
    with running_idp(socket_dir / "agent.sock", allow_unauthenticated_verifiers=True) as server:
        stranger = as_user(OTHER_UID, server.endpoint)
    assert stranger["bundles"] == ["example.org"]
    assert "no identity issued" in str(stranger["svid_error"])


def test_a_call_without_the_workload_security_header_is_refused(idp: WorkloadApiServer) -> None:
    with grpc.insecure_channel(f"unix:{idp.settings.socket_path}") as channel:
        stub = workload_pb2_grpc.SpiffeWorkloadAPIStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.FetchJWTSVID(workload_pb2.JWTSVIDRequest(audience=["parsec"]), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == "security header missing from request"


def test_a_connection_that_bypasses_the_relay_has_no_identity(idp: WorkloadApiServer) -> None:
    """gRPC's own socket is private (0700 directory); a connection the relay did not make is never attributed."""
    private_dir: Path = idp._private_dir  # the relay's soundness rests on this directory's mode
    assert private_dir.stat().st_mode & 0o777 == 0o700
    with grpc.insecure_channel(f"unix:{private_dir / 'grpc.sock'}") as channel:
        stub = workload_pb2_grpc.SpiffeWorkloadAPIStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.FetchJWTSVID(
                workload_pb2.JWTSVIDRequest(audience=["parsec"]), metadata=[("workload.spiffe.io", "true")], timeout=10
            )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_validate_jwt_svid_checks_the_audience_against_the_current_bundle(idp: WorkloadApiServer) -> None:
    token = fetch_token(idp.endpoint, TENANT_A)
    with WorkloadApiClient(idp.endpoint, default_timeout=10) as client:
        assert str(client.validate_jwt_svid(token, "parsec").spiffe_id) == TENANT_A
        with pytest.raises(ValidateJwtSvidError, match="INVALID_ARGUMENT"):
            client.validate_jwt_svid(token, "not-parsec")
        idp.keys.revoke(jwt.get_unverified_header(token)["kid"])
        with pytest.raises(ValidateJwtSvidError, match="INVALID_ARGUMENT"):
            client.validate_jwt_svid(token, "parsec")


def test_the_bundle_stream_pushes_every_rotation(idp: WorkloadApiServer) -> None:
    seen: list[frozenset[str]] = []
    changed = threading.Condition()

    def on_update(bundles: object) -> None:
        (bundle,) = bundles.bundles  # type: ignore[attr-defined]
        with changed:
            seen.append(frozenset(bundle.jwt_authorities))
            changed.notify_all()

    with WorkloadApiClient(idp.endpoint) as client:
        stream = client.stream_jwt_bundles(on_update, lambda error: None, retry_connect=False)
        first = idp.keys.current.kid
        with changed:
            assert changed.wait_for(lambda: len(seen) >= 1, WAIT)
        second = idp.keys.rotate().kid
        with changed:
            assert changed.wait_for(lambda: len(seen) >= 2, WAIT)
        idp.keys.revoke(first)
        with changed:
            assert changed.wait_for(lambda: len(seen) >= 3, WAIT)
        stream.cancel()
    assert seen[:3] == [frozenset({first}), frozenset({first, second}), frozenset({second})]


def test_a_stale_socket_is_replaced_but_a_regular_file_is_not(socket_dir: Path) -> None:
    path = socket_dir / "agent.sock"
    with running_idp(path):
        pass
    with running_idp(path) as server:  # the previous run's socket file, if any, is replaced
        assert fetch_token(server.endpoint, TENANT_A)
    path.write_text("not a socket")
    with pytest.raises(FileExistsError, match="is not a socket"), running_idp(path):
        pass
    assert path.read_text() == "not a socket"


def test_settings_refuse_a_grace_period_shorter_than_the_token_lifetime(socket_dir: Path) -> None:
    registry = Registry.of("example.org", [])
    with pytest.raises(ValueError, match=r"grace_period .* is shorter than svid_ttl"):
        ServerSettings(socket_dir / "agent.sock", registry, svid_ttl=300, grace_period=60)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1000", "expected \\[uid:\\|gid:\\]N=spiffe"),
        ("pid:1=spiffe://example.org/a", "must be uid:N or gid:N"),
        ("uid:-1=spiffe://example.org/a", "decimal number"),
        ("uid:4294967296=spiffe://example.org/a", "below 2\\*\\*32"),
        ("1000=http://example.org/a", "spiffe://"),
        ("1000=spiffe://example.org", "needs a path"),
    ],
)
def test_workload_registrations_are_checked(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_workload(text)


def test_registrations_belong_to_the_trust_domain_and_select_by_uid_or_gid() -> None:
    with pytest.raises(ValueError, match=r"outside the trust domain example\.org"):
        Registry.of("example.org", [parse_workload("1=spiffe://other.org/a")])
    registry = Registry.of(
        "example.org",
        [
            parse_workload("uid:1000=spiffe://example.org/by-uid"),
            parse_workload("gid:100=spiffe://example.org/by-gid"),
            parse_workload("1000=spiffe://example.org/by-uid"),
        ],
    )
    assert [str(i) for i in registry.identities_for(PeerCredentials(1, 1000, 100))] == [
        "spiffe://example.org/by-uid",
        "spiffe://example.org/by-gid",
    ]
    assert registry.identities_for(PeerCredentials(1, 1001, 101)) == ()
