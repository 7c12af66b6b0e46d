"""Multitenancy with real Unix users and UnixPeerCredentials, on every provider kind (all_providers/multitenancy.rs).

Tenants are Unix users created for the test; each request comes from a process running as that user, so the
identity is the one the kernel reports (SO_PEERCRED), not one the client chose.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from tests.e2e import parsec_raw_client as raw
from tests.e2e.helpers import RAW_CLIENT, SYSTEM_PYTHON, UnixUser, run_as
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


@pytest.mark.threat("A1-S-1", "M-3")
def test_tenants_with_the_same_key_name_are_isolated(
    service: ServiceHandle, unix_users: tuple[UnixUser, UnixUser]
) -> None:
    a, b = unix_users
    provider = provider_id(service)

    def req(user: UnixUser, opcode: int, body: bytes, to: int = provider) -> bytes:
        return raw.request(to, opcode, body, raw.UNIX_PEER_CREDENTIALS, user.auth)

    assert statuses(a, service, req(a, raw.GENERATE_KEY, raw.generate_key("shared"))) == [0]
    assert statuses(b, service,
                    req(b, raw.SIGN_HASH, raw.sign_hash("shared", DIGEST)),
                    req(b, raw.EXPORT_PUBLIC_KEY, raw.key_name_only("shared")),
                    req(b, raw.DESTROY_KEY, raw.key_name_only("shared")),
                    req(b, raw.GENERATE_KEY, raw.generate_key("shared"))) == [1140, 1140, 1140, 0]
    replies = run_as(a, service.socket_path, [req(a, raw.LIST_KEYS, b"", raw.CORE),
                                              req(a, raw.DESTROY_KEY, raw.key_name_only("shared"))])
    assert [raw.status_of(reply) for reply in replies] == [0, 0]
    key_infos = [info for number, info in raw.read_fields(raw.parse(replies[0])[1]) if number == 1]
    assert [dict(raw.read_fields(info))[2] for info in key_infos] == [b"shared"]  # A sees its own key only
    assert statuses(b, service, req(b, raw.SIGN_HASH, raw.sign_hash("shared", DIGEST))) == [0]  # B's key is still there
    assert raw.status_of(raw.exchange(str(service.socket_path), raw.request(raw.CORE, raw.LIST_KEYS))) == 19


@pytest.mark.threat("A1-S-1")
def test_a_tenant_cannot_claim_another_uid(service: ServiceHandle, unix_users: tuple[UnixUser, UnixUser]) -> None:
    a, b = unix_users
    claims = [b.auth, (0).to_bytes(4, "little"), a.auth[:3], a.auth + b"\0"]
    requests = [raw.request(raw.CORE, raw.LIST_CLIENTS if claim[:4] == bytes(4) else raw.LIST_KEYS, b"",
                            raw.UNIX_PEER_CREDENTIALS, claim) for claim in claims]
    assert statuses(a, service, *requests) == [11, 11, 11, 11]


@pytest.mark.threat("A1-I-1", "M-3")
def test_socket_permissions_are_enforced_by_the_kernel(
    service: ServiceHandle, unix_users: tuple[UnixUser, UnixUser]
) -> None:
    """O-10: restricting the socket file keeps other users out before the service sees anything."""
    a, _ = unix_users
    os.chmod(service.socket_path, 0o600)
    try:
        result = subprocess.run(
            ["setpriv", f"--reuid={a.uid}", f"--regid={a.gid}", "--clear-groups", SYSTEM_PYTHON, str(RAW_CLIENT),
             str(service.socket_path)],
            input=raw.request(raw.CORE, raw.PING).hex() + "\n", capture_output=True, text=True, timeout=60,
            check=False,
        )
        assert result.returncode != 0 and "PermissionError" in result.stderr
    finally:
        os.chmod(service.socket_path, 0o666)
    assert service.client().ping() == (1, 0)
