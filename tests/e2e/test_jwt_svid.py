"""JwtSvid end to end on `parsec-tm serve`: refused tokens under load, and several authenticators at once.

Issue "The Identity Provider deployment", items 4 and 6. Every refused-token case of the identity-provider tests
(tests.identity_provider.tokens: forged, `alg: none`, algorithm confusion, swapped payload, truncated, no
signature, expired, wrong audience, wrong trust domain, foreign subject) plus an empty, a non-UTF-8 and an
oversized auth field is sent over and over by a flooding client — a process of another Unix user — while a
tenant keeps signing: every bad token gets its status, the tenant's every request succeeds, and the service stays
up. Then one service runs UnixPeerCredentials, Direct and JwtSvid at once on every provider kind, and the same
key name under each stays three keys, each visible and deletable only within its own authenticator.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from refimpl.client import BasicClient, ClientError, NoAuth, UnixPeerCredentials
from refimpl.identity_provider.server import WorkloadApiServer
from refimpl.ids import AuthType, Status
from refimpl.psa import types as t
from tests.e2e import parsec_raw_client as raw
from tests.e2e.helpers import UnixUser, raw_client_command, serve_once
from tests.e2e.tenancy import Tenancy, spiffe_id
from tests.fixtures.service import (
    AuthenticatorOptions,
    ServiceFactory,
    ServiceHandle,
    ServiceOptions,
    render_config,
    running_services,
)
from tests.identity_provider.tokens import REFUSED_TOKENS

pytestmark = pytest.mark.e2e

ECDSA = t.Ecdsa(t.Hash.SHA_256)
P256 = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True, verify_hash=True), ECDSA)
)
DIGEST = hashlib.sha256(b"tenant at work").digest()
FLOOD = 60
"""Requests per flood: each on its own connection, as a client of Parsec's protocol sends them."""


def verifies(point: bytes, signature: bytes) -> bool:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
    try:
        key.verify(der, DIGEST, ec.ECDSA(Prehashed(hashes.SHA256())))
    except Exception:
        return False
    return True


# ---------------------------------------------------------------------------------- refused tokens under load


@dataclass
class Flooded:
    """A JwtSvid service whose failure limit never locks anyone out (every bad token is evaluated), and its tenant."""

    service: ServiceHandle
    idp: WorkloadApiServer
    tenant: BasicClient
    public_key: bytes


@pytest.fixture(scope="module")
def flooded(workload_api: WorkloadApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flooded]:
    jwt_svid = AuthenticatorOptions(
        "JwtSvid", (spiffe_id("admin"),), {"workload_endpoint": workload_api.endpoint, "max_failures": 10**9}
    )
    with running_services(tmp_path_factory.mktemp("flooded")) as start:
        service = start(ServiceOptions(authenticators=(jwt_svid,)))
        tenancy = Tenancy("jwt-svid", service, workload_api.endpoint)
        tenancy.wait_until_trusted()
        tenant = tenancy.client("alice")
        tenant.psa_generate_key("at-work", P256)
        yield Flooded(service, workload_api, tenant, tenant.psa_export_public_key("at-work"))
        tenancy.close()


TokenFactory = Callable[[WorkloadApiServer], str | bytes]


def with_status(make: TokenFactory, status: Status) -> Callable[[WorkloadApiServer], tuple[bytes, Status]]:
    def made(idp: WorkloadApiServer) -> tuple[bytes, Status]:
        token = make(idp)
        return (token.encode() if isinstance(token, str) else token), status

    return made


BAD_AUTH_FIELDS = [
    pytest.param(
        with_status(cast(TokenFactory, case.values[0]), Status.AUTHENTICATION_ERROR), id=case.id, marks=case.marks
    )
    for case in REFUSED_TOKENS
] + [
    pytest.param(
        with_status(lambda idp: b"", Status.AUTHENTICATION_ERROR), id="empty", marks=pytest.mark.threat("A1-S-2", "M-2")
    ),
    pytest.param(
        with_status(lambda idp: b"\xc3\x28.\xff", Status.INVALID_ENCODING),
        id="not-utf8",
        marks=pytest.mark.threat("A1-E-1", "M-5"),
    ),
    pytest.param(
        with_status(lambda idp: "e" * 30_000 + "." + "f" * 30_000 + ".", Status.AUTHENTICATION_ERROR),
        id="oversized",
        marks=pytest.mark.threat("A1-D-2", "M-5"),
    ),
]


@pytest.mark.threat("A1-D-2", "M-5")
@pytest.mark.parametrize("make_auth", BAD_AUTH_FIELDS)
def test_a_flood_of_refused_tokens_neither_crashes_nor_stops_other_tenants(
    flooded: Flooded,
    unix_users: tuple[UnixUser, UnixUser],
    make_auth: Callable[[WorkloadApiServer], tuple[bytes, Status]],
) -> None:
    auth, expected = make_auth(flooded.idp)
    request = raw.request(raw.CORE, raw.LIST_KEYS, b"", raw.JWT_SVID, auth)
    flooder = subprocess.Popen(
        raw_client_command(unix_users[1], flooded.service.socket_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert flooder.stdin is not None and flooder.stdout is not None and flooder.stderr is not None
    flooder.stdin.write((request.hex() + "\n") * (FLOOD - 1))  # the flood runs while the tenant works …
    flooder.stdin.flush()
    signatures: list[bytes] = []
    while not signatures or flooder.poll() is None:
        assert len(signatures) < 100 * FLOOD, "the flooding client never finished"
        signatures.append(flooded.tenant.psa_sign_hash("at-work", DIGEST, ECDSA))
        if len(signatures) == 1:  # … and cannot end before the tenant's first request was answered
            flooder.stdin.write(request.hex() + "\n")
            flooder.stdin.close()
    output, errors = flooder.stdout.read(), flooder.stderr.read()  # it has exited: the pipes hold everything
    assert flooder.returncode == 0, errors
    replies = [raw.parse(bytes.fromhex(line)) for line in output.splitlines()]
    assert len(replies) == FLOOD
    assert {(header["status"], header["opcode"], body) for header, body in replies} == {
        (int(expected), raw.LIST_KEYS, b"")
    }
    assert all(verifies(flooded.public_key, signature) for signature in signatures)
    assert flooded.service.process is not None and flooded.service.process.poll() is None
    assert flooded.tenant.ping() == (1, 0)
    log = flooded.service.log_text()
    assert "Traceback" not in log and "failed unexpectedly" not in log


# ------------------------------------------------------------------------- several authenticators at once


@pytest.fixture
def three_authenticators(
    service_factory: ServiceFactory, provider_table: dict[str, Any], workload_api: WorkloadApiServer
) -> tuple[ServiceHandle, Tenancy]:
    options = ServiceOptions(
        authenticators=(
            AuthenticatorOptions("UnixPeerCredentials", ("0",)),
            AuthenticatorOptions("Direct", ("admin",)),
            AuthenticatorOptions("JwtSvid", (spiffe_id("admin"),), {"workload_endpoint": workload_api.endpoint}),
        )
    ).with_providers(provider_table)
    service = service_factory(options)
    tenancy = Tenancy("jwt-svid", service, workload_api.endpoint)
    tenancy.wait_until_trusted()
    return service, tenancy


def status_of(call: Callable[[], Any]) -> Status:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.status


@pytest.mark.threat("A1-S-1")
def test_three_authenticators_keep_their_tenants_keys_apart(
    three_authenticators: tuple[ServiceHandle, Tenancy],
) -> None:
    service, jwt = three_authenticators
    assert [info.id for info in service.client().list_authenticators()] == [
        AuthType.UNIX_PEER_CREDENTIALS,
        AuthType.DIRECT,
        AuthType.JWT_SVID,
    ]
    alice = spiffe_id("alice")
    peer_root = service.client(auth=UnixPeerCredentials(0))  # the application "0" of UnixPeerCredentials
    direct_root = service.client("0")  # Direct lets anyone claim "0" …
    direct_alice = service.client(alice)  # … or a SPIFFE ID
    jwt_alice = jwt.client("alice")
    tenants = (peer_root, direct_root, direct_alice, jwt_alice)
    for tenant in tenants:
        tenant.psa_generate_key("k", P256)  # the same name four times: no AlreadyExists
    publics = [tenant.psa_export_public_key("k") for tenant in tenants]
    assert len(set(publics)) == 4
    for tenant, public in zip(tenants, publics, strict=True):
        assert [key.name for key in tenant.list_keys()] == ["k"]
        assert verifies(public, tenant.psa_sign_hash("k", DIGEST, ECDSA))

    direct_admin, jwt_admin = service.client("admin"), jwt.client("admin")
    assert direct_admin.list_clients() == ["0", alice]
    assert peer_root.list_clients() == ["0"]
    assert jwt_admin.list_clients() == [alice]
    assert status_of(direct_alice.list_clients) is Status.ADMIN_OPERATION

    direct_admin.delete_client(alice)  # Direct's "alice", not the SPIFFE-authenticated one
    direct_admin.delete_client("0")  # Direct's "0", not the Unix user root
    assert direct_alice.list_keys() == [] and direct_root.list_keys() == []
    assert verifies(publics[3], jwt_alice.psa_sign_hash("k", DIGEST, ECDSA))
    assert verifies(publics[0], peer_root.psa_sign_hash("k", DIGEST, ECDSA))
    jwt_admin.delete_client(alice)
    assert status_of(lambda: jwt_alice.psa_sign_hash("k", DIGEST, ECDSA)) is Status.PSA_ERROR_DOES_NOT_EXIST
    assert peer_root.list_keys()[0].name == "k"
    peer_root.psa_destroy_key("k")

    not_configured = raw.request(raw.CORE, raw.PING, b"", raw.JWT, b"a.b.c")
    assert raw.status_of(raw.exchange(str(service.socket_path), not_configured)) == 13
    anonymous = BasicClient(service.endpoint, auth=NoAuth())  # in no namespace at all
    assert status_of(anonymous.list_keys) is Status.NOT_AUTHENTICATED
    assert status_of(anonymous.list_clients) is Status.NOT_AUTHENTICATED


def test_several_authenticators_with_an_on_disk_store_do_not_start(tmp_path: Path) -> None:
    options = ServiceOptions(
        manager_type="OnDisk",
        authenticators=(
            AuthenticatorOptions("Direct", ("admin",)),
            AuthenticatorOptions("UnixPeerCredentials", ("0",)),
        ),
    )
    result = serve_once(tmp_path, render_config(options, tmp_path, tmp_path / "s.sock"))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("parsec-tm serve: invalid configuration: key_manager[0] (kim).manager_type: OnDisk cannot")
    assert 'Use manager_type = "SQLite"' in last
