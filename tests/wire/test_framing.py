"""`read_request` follows Parsec's order of header checks (parsec-facts §1.2 steps 1–7), fault by fault.

A request with several faults must be answered with the status of the earliest step, since that is what Parsec's
service does and what a client (or an attacker probing the service) observes.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl.errors import ParsecError
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.wire.framing import bytes_reader, read_request, read_response, socket_reader
from refimpl.wire.header import (
    Request,
    RequestHeader,
    Response,
    encode_header,
    encode_request,
    encode_response,
)

LIMIT = 1024
BODY = b"\x0a\x03abc"
AUTH = b"tenant-a"

# Each fault: (name, header overrides, status). Listed in Parsec's order of checks.
FAULTS: list[tuple[str, dict[str, Any], Status]] = [
    ("magic", {"magic": 0xDEADBEEF}, Status.INVALID_HEADER),
    ("header_size", {"header_size": 28}, Status.INVALID_HEADER),
    ("version", {"version": (2, 0)}, Status.WIRE_PROTOCOL_VERSION_NOT_SUPPORTED),
    ("reserved", {"reserved": (0, 1)}, Status.INVALID_HEADER),
    ("body_too_long", {"body_len": LIMIT + 1}, Status.BODY_SIZE_EXCEEDS_LIMIT),
    ("short_body", {"body_len": len(BODY) + 100}, Status.CONNECTION_ERROR),
    ("content_type", {"content_type": 1}, Status.CONTENT_TYPE_NOT_SUPPORTED),
    ("accept_type", {"accept_type": 7}, Status.ACCEPT_TYPE_NOT_SUPPORTED),
    ("auth_type", {"auth_type": 0xFF}, Status.AUTHENTICATOR_DOES_NOT_EXIST),
    ("opcode", {"opcode": 0xFFFF}, Status.OPCODE_DOES_NOT_EXIST),
    ("provider", {"provider": 6}, Status.PROVIDER_DOES_NOT_EXIST),
]
ORDER = [name for name, _, _ in FAULTS]


def request_bytes(**overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "provider": ProviderId.MBED_CRYPTO,
        "session": 0x1122334455667788,
        "content_type": 0,
        "accept_type": 0,
        "auth_type": AuthType.DIRECT,
        "body_len": len(BODY),
        "auth_len": len(AUTH),
        "opcode": Opcode.PSA_DESTROY_KEY,
        "status": 0,
    }
    fields.update(overrides)
    return encode_header(**fields) + BODY + AUTH


def status_of(data: bytes, limit: int = LIMIT) -> Status:
    with pytest.raises(ParsecError) as raised:
        read_request(bytes_reader(data), limit)
    return raised.value.status


@pytest.mark.threat("A1-E-1", "M-5")
@pytest.mark.parametrize(("name", "overrides", "status"), FAULTS, ids=ORDER)
def test_each_fault_alone(name: str, overrides: dict[str, Any], status: Status) -> None:
    assert status_of(request_bytes(**overrides)) is status


@pytest.mark.threat("A1-E-1", "M-5")
@given(st.sets(st.sampled_from(ORDER), min_size=2).filter(lambda s: not {"body_too_long", "short_body"} <= s))
def test_the_earliest_fault_wins(chosen: set[str]) -> None:
    overrides: dict[str, Any] = {}
    for name, fault, _ in FAULTS:
        if name in chosen:
            overrides.update(fault)
    expected = next(status for name, _, status in FAULTS if name in chosen)
    assert status_of(request_bytes(**overrides)) is expected


@pytest.mark.parametrize("opcode", [0x16, 0x17, 0x1D, 0])
def test_opcodes_missing_from_parsecs_enum_do_not_exist(opcode: int) -> None:
    """MAC (0x16/0x17) has contracts but no Opcode in parsec-interface; 0x1D is unassigned."""
    assert status_of(request_bytes(opcode=opcode)) is Status.OPCODE_DOES_NOT_EXIST


def test_body_len_equal_to_the_limit_is_accepted() -> None:
    assert read_request(bytes_reader(request_bytes()), len(BODY)).body == BODY
    assert status_of(request_bytes(), len(BODY) - 1) is Status.BODY_SIZE_EXCEEDS_LIMIT


def test_flags_and_status_are_ignored_and_kept() -> None:
    """e2e basic.rs::flags_ignored / status_ignored: non-zero values are accepted."""
    request = read_request(bytes_reader(request_bytes(flags=0xBEEF, status=0xFFFF)), LIMIT)
    assert (request.header.flags, request.header.status) == (0xBEEF, 0xFFFF)
    assert (request.body, request.auth) == (BODY, AUTH)
    assert request.header.session == 0x1122334455667788


@pytest.mark.parametrize("cut", [0, 3, 5, 20, 35, 36 + 2, 36 + len(BODY) + 1])
def test_a_stream_ending_early_is_a_connection_error(cut: int) -> None:
    assert status_of(request_bytes()[:cut]) is Status.CONNECTION_ERROR


@pytest.mark.parametrize("error", [TimeoutError("timed out"), ConnectionResetError(), EOFError()])
def test_receive_errors_are_connection_errors(error: Exception) -> None:
    def failing(size: int) -> bytes:
        raise error

    with pytest.raises(ParsecError) as raised:
        read_request(failing, LIMIT)
    assert raised.value.status is Status.CONNECTION_ERROR


@given(
    provider=st.sampled_from(ProviderId),
    opcode=st.sampled_from(Opcode),
    auth_type=st.sampled_from(AuthType),
    session=st.integers(0, 2**64 - 1),
    flags=st.integers(0, 0xFFFF),
    body=st.binary(max_size=64),
    auth=st.binary(max_size=64),
)
def test_every_valid_header_round_trips(
    provider: ProviderId, opcode: Opcode, auth_type: AuthType, session: int, flags: int, body: bytes, auth: bytes
) -> None:
    header = RequestHeader(provider=provider, opcode=opcode, auth_type=auth_type, session=session, flags=flags)
    data = encode_request(Request(header, body, auth))
    assert len(data) == 36 + len(body) + len(auth)
    parsed = read_request(bytes_reader(data), LIMIT)
    assert parsed == Request(header, body, auth)
    assert type(parsed.header.opcode) is Opcode and type(parsed.header.provider) is ProviderId


def test_over_a_real_socket_pair() -> None:
    """Both sides of a Unix stream: the reader returns exactly one request, then one response comes back."""
    server, client = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with server, client:
        data = request_bytes()

        def send_in_pieces() -> None:
            for start in range(0, len(data), 7):
                client.sendall(data[start : start + 7])

        sender = threading.Thread(target=send_in_pieces)
        sender.start()
        request = read_request(socket_reader(server), LIMIT)
        sender.join()
        assert encode_request(request) == data
        server.sendall(encode_response(Response.for_request(request.header, Status.PSA_ERROR_DOES_NOT_EXIST)))
        response = read_response(socket_reader(client))
        assert response.status is Status.PSA_ERROR_DOES_NOT_EXIST
        assert response.header.session == 0x1122334455667788
        server.close()
        with pytest.raises(ParsecError) as raised:
            read_response(socket_reader(client))
        assert raised.value.status is Status.CONNECTION_ERROR
