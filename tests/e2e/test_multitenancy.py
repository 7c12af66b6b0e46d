"""Multitenancy with real Unix users, on every provider kind (all_providers/multitenancy.rs).

Tenants are Unix users created for the test; each request comes from a process running as that user. With
UnixPeerCredentials the identity is the one the kernel reports (SO_PEERCRED), not one the client chose; with
JwtSvid it is the SPIFFE ID of a JWT-SVID that the tenant's own process obtained from the Workload API server,
which attests the caller by its kernel uid too (tenant-a's user can get tenant-a's identity and no other).
"""

from __future__ import annotations

from typing import Any

import pytest

from refimpl.identity_provider.server import WorkloadApiServer
from tests.e2e import parsec_raw_client as raw
from tests.e2e.helpers import UnixUser, run_as
from tests.e2e.tenancy import Tenancy, tenancy_options, tenant_name, token_fetched_as
from tests.fixtures.service import ServiceFactory, ServiceHandle, ServiceOptions

pytestmark = pytest.mark.e2e

DIGEST = bytes(range(32))


@pytest.fixture
def service(service_factory: ServiceFactory, provider_table: dict[str, Any]) -> ServiceHandle:
    options = ServiceOptions(auth_type="UnixPeerCredentials", admins=("0",))
    return service_factory(options.with_providers(provider_table))


def provider_id(service: ServiceHandle) -> int:
    return int(service.client().list_providers()[0].id)


def statuses(user: UnixUser, service: ServiceHandle, *requests: bytes) -> list[int]:
    return [raw.status_of(reply) for reply in run_as(user, service.socket_path, list(requests))]


def jwt_svid_service(
    service_factory: ServiceFactory, provider_table: dict[str, Any], workload_api: WorkloadApiServer
) -> ServiceHandle:
    service = service_factory(tenancy_options("jwt-svid", workload_api.endpoint).with_providers(provider_table))
    Tenancy("jwt-svid", service, workload_api.endpoint).wait_until_trusted()
    return service


@pytest.mark.threat("A1-S-1", "M-3")
@pytest.mark.parametrize("auth", ["peer", "jwt-svid"])
def test_tenants_with_the_same_key_name_are_isolated(
    request: pytest.FixtureRequest,
    service_factory: ServiceFactory,
    provider_table: dict[str, Any],
    unix_users: tuple[UnixUser, UnixUser],
    auth: str,
) -> None:
    a, b = unix_users
    if auth == "peer":
        service = request.getfixturevalue("service")
        credentials = {a: (raw.UNIX_PEER_CREDENTIALS, a.auth), b: (raw.UNIX_PEER_CREDENTIALS, b.auth)}
    else:
        workload_api = request.getfixturevalue("workload_api")
        service = jwt_svid_service(service_factory, provider_table, workload_api)
        credentials = {
            user: (raw.JWT_SVID, token_fetched_as(user, workload_api.endpoint, tenant_name(index)).encode())
            for index, user in enumerate(unix_users)
        }
    provider = provider_id(service)

    def req(user: UnixUser, opcode: int, body: bytes, to: int = provider) -> bytes:
        auth_type, auth = credentials[user]
        return raw.request(to, opcode, body, auth_type, auth)

    assert statuses(a, service, req(a, raw.GENERATE_KEY, raw.generate_key("shared"))) == [0]
    assert statuses(
        b,
        service,
        req(b, raw.SIGN_HASH, raw.sign_hash("shared", DIGEST)),
        req(b, raw.EXPORT_PUBLIC_KEY, raw.key_name_only("shared")),
        req(b, raw.DESTROY_KEY, raw.key_name_only("shared")),
        req(b, raw.GENERATE_KEY, raw.generate_key("shared")),
    ) == [1140, 1140, 1140, 0]
    replies = run_as(
        a,
        service.socket_path,
        [req(a, raw.LIST_KEYS, b"", raw.CORE), req(a, raw.DESTROY_KEY, raw.key_name_only("shared"))],
    )
    assert [raw.status_of(reply) for reply in replies] == [0, 0]
    key_infos = [info for number, info in raw.read_fields(raw.parse(replies[0])[1]) if number == 1]
    assert [dict(raw.read_fields(info))[2] for info in key_infos] == [b"shared"]  # A sees its own key only
    assert statuses(b, service, req(b, raw.SIGN_HASH, raw.sign_hash("shared", DIGEST))) == [0]  # B's key is still there
    assert raw.status_of(raw.exchange(str(service.socket_path), raw.request(raw.CORE, raw.LIST_KEYS))) == 19


@pytest.mark.threat("A1-S-1")
def test_a_tenant_cannot_claim_another_uid(service: ServiceHandle, unix_users: tuple[UnixUser, UnixUser]) -> None:
    a, b = unix_users
    claims = [b.auth, (0).to_bytes(4, "little"), a.auth[:3], a.auth + b"\0"]
    requests = [
        raw.request(
            raw.CORE,
            raw.LIST_CLIENTS if claim[:4] == bytes(4) else raw.LIST_KEYS,
            b"",
            raw.UNIX_PEER_CREDENTIALS,
            claim,
        )
        for claim in claims
    ]
    assert statuses(a, service, *requests) == [11, 11, 11, 11]
