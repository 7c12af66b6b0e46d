"""Parsec's raw-header basic tests and ping tests (svc:e2e_tests/tests/per_provider/normal_tests/{basic,ping}.rs).

Each request is built by the independent raw client and sent over a real socket to `parsec-tm serve`; the status
is the one Parsec's own e2e suite expects (parsec-facts §7.1). Errors found before the header is trusted are
answered with provider 0, session 0, opcode Ping.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e import parsec_raw_client as raw
from tests.fixtures.service import ServiceFactory, ServiceHandle

pytestmark = pytest.mark.e2e

APP = b"basic-tests"


@pytest.fixture(scope="module")
def service(module_service_factory: ServiceFactory) -> ServiceHandle:
    return module_service_factory()


def send(service: ServiceHandle, data: bytes, shutdown_write: bool = False) -> tuple[dict[str, int], bytes]:
    return raw.parse(raw.exchange(str(service.socket_path), data, shutdown_write))


def ping(auth_type: int = raw.DIRECT, **overrides: Any) -> bytes:
    return raw.request(raw.CORE, raw.PING, auth_type=auth_type, auth=APP, **overrides)


@pytest.mark.threat("A1-E-1", "M-5")
@pytest.mark.parametrize(
    ("name", "data", "status", "early"),
    [
        pytest.param(*case, id=case[0])
        for case in [
            ("invalid_provider", raw.request(0xFF, raw.PING, auth_type=raw.DIRECT, auth=APP), 6, True),
            (
                "provider_not_registered",
                raw.request(raw.TPM, raw.GENERATE_RANDOM, raw.field_varint(1, 32), raw.DIRECT, APP),
                5,
                False,
            ),
            ("invalid_content_type", ping(content_type=0xFF), 2, True),
            ("invalid_accept_type", ping(accept_type=0xFF), 3, True),
            ("invalid_opcode", raw.request(raw.CORE, 0xFFFF, auth_type=raw.DIRECT, auth=APP), 9, True),
            ("invalid_authenticator", ping(auth_type=0xFF), 12, True),
            ("authenticator_not_registered", ping(auth_type=raw.JWT), 13, False),
            ("reserved_fields_not_zero1", ping(reserved=(1, 0)), 17, True),
            ("reserved_fields_not_zero2", ping(reserved=(0, 1)), 17, True),
            ("bad_version", ping(version=(2, 0)), 4, True),
            ("bad_magic", ping(magic=0xDEADBEEF), 17, True),
        ]
    ],
)
def test_raw_header_faults_get_parsecs_status(
    service: ServiceHandle, name: str, data: bytes, status: int, early: bool
) -> None:
    header, body = send(service, data)
    assert header["status"] == status, name
    assert body == b""
    if early:  # Response::from_status: nothing of the untrusted header is echoed
        assert (header["provider"], header["session"], header["opcode"]) == (0, 0, raw.PING)


@pytest.mark.threat("A1-E-1", "M-5")
@pytest.mark.parametrize("field", ["body_len", "auth_len"])
def test_lengths_longer_than_the_data_are_connection_errors(service: ServiceHandle, field: str) -> None:
    """invalid_body_len / invalid_auth_len: 0xFFFF announced, nothing sent; the service answers ConnectionError."""
    header, _ = send(service, ping(**{field: 0xFFFF}), shutdown_write=True)
    assert header["status"] == 15
    assert header["opcode"] == raw.PING


def test_flags_and_status_fields_of_a_request_are_ignored(service: ServiceHandle) -> None:
    for data in (ping(flags=0xFFFF), ping(status=0xFFFF), ping(session=0x1122334455667788)):
        header, body = send(service, data)
        assert header["status"] == 0
        assert body == b"\x08\x01"  # wire protocol 1.0
    header, _ = send(service, ping(session=0x1122334455667788))
    assert header["session"] == 0x1122334455667788  # echoed


def test_ping_answers_version_1_0(service: ServiceHandle) -> None:
    header, body = send(service, raw.request(raw.CORE, raw.PING))
    assert header["status"] == 0
    assert dict(raw.read_fields(body)) == {1: 1}  # major 1; minor 0 is the default, so absent


def test_mangled_ping_is_deserializing_body_failed(service: ServiceHandle) -> None:
    header, _ = send(service, raw.request(raw.CORE, raw.PING, bytes.fromhex("1122334455")))
    assert header["status"] == 7
    assert header["opcode"] == raw.PING
