"""Reading one request (service side) or one response (client side) off a stream, in Parsec's order of checks.

Parsec's `Request::read_from_stream` and `WireHeader::read_from_stream` (ifc:src/requests/request/mod.rs,
ifc:src/requests/common/wire_header_1_0.rs) and `RequestHeader::try_from(Raw)`; parsec-facts §1.2 steps 1–7.
The order is observable from outside (a request with two faults reports the earlier step's status, and some
faults are answered before the rest of the request has even been sent), so it is followed exactly:

1. magic (4 bytes) → InvalidHeader; 2. header size (2 bytes), then that many bytes, then size ≠ 30 →
InvalidHeader; 3. version ≠ 1.0 → WireProtocolVersionNotSupported; 4. reserved bytes → InvalidHeader;
5. body_len > limit → BodySizeExceedsLimit, body not read; 6. body then auth; a short read, EOF or timeout →
ConnectionError; 7. content type, accept type, auth type, opcode, provider → 2, 3, 12, 9, 6.

Every `ParsecError` raised here is answered with `Response.from_status(error.status)`: the header was not
trusted yet, so nothing of it is echoed.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

from refimpl.errors import ParsecError
from refimpl.ids import AuthType, BodyType, Opcode, ProviderId, Status
from refimpl.wire.header import (
    HEADER,
    HEADER_SIZE,
    MAGIC,
    Request,
    RequestHeader,
    Response,
    check_fixed_fields,
    decode_response,
)

RecvExactly = Callable[[int], bytes]
"""Returns exactly n bytes, or raises EOFError / OSError / TimeoutError."""

_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_OPCODES: dict[int, Opcode] = {opcode.value: opcode for opcode in Opcode}
_PROVIDERS: dict[int, ProviderId] = {provider.value: provider for provider in ProviderId}
_AUTH_TYPES: dict[int, AuthType] = {auth.value: auth for auth in AuthType}
_MAGIC_BYTES = _U32.pack(MAGIC)


def _recv(recv_exactly: RecvExactly, size: int, what: str) -> bytes:
    try:
        data = recv_exactly(size)
    except (EOFError, OSError) as error:  # TimeoutError is an OSError
        raise ParsecError(Status.CONNECTION_ERROR, f"reading {what} ({size} bytes): {error!r}") from None
    if len(data) != size:
        raise ParsecError(Status.CONNECTION_ERROR, f"reading {what}: got {len(data)} of {size} bytes")
    return data


def read_request(recv_exactly: RecvExactly, body_len_limit: int) -> Request:
    """Read and validate one request (facts §1.2 steps 1–7); raise `ParsecError` at the first failed check."""
    magic_bytes = _recv(recv_exactly, 4, "the magic number")
    if magic_bytes != _MAGIC_BYTES:
        raise ParsecError(Status.INVALID_HEADER, f"magic number {_U32.unpack(magic_bytes)[0]:#010x} is wrong")
    size_bytes = _recv(recv_exactly, 2, "the header size")
    header_size = _U16.unpack(size_bytes)[0]
    rest = _recv(recv_exactly, header_size, "the header")
    if header_size != HEADER_SIZE:
        raise ParsecError(Status.INVALID_HEADER, f"header size {header_size} is not {HEADER_SIZE}")
    (
        _,
        _,
        version_maj,
        version_min,
        flags,
        provider,
        session,
        content_type,
        accept_type,
        auth_type,
        body_len,
        auth_len,
        opcode,
        status,
        reserved1,
        reserved2,
    ) = HEADER.unpack(magic_bytes + size_bytes + rest)
    check_fixed_fields(header_size, version_maj, version_min, reserved1, reserved2)
    if body_len > body_len_limit:
        raise ParsecError(Status.BODY_SIZE_EXCEEDS_LIMIT, f"body_len {body_len} exceeds the limit {body_len_limit}")
    body = _recv(recv_exactly, body_len, "the body") if body_len else b""
    auth = _recv(recv_exactly, auth_len, "the auth field") if auth_len else b""
    if content_type != BodyType.PROTOBUF:
        raise ParsecError(Status.CONTENT_TYPE_NOT_SUPPORTED, f"content type {content_type}")
    if accept_type != BodyType.PROTOBUF:
        raise ParsecError(Status.ACCEPT_TYPE_NOT_SUPPORTED, f"accept type {accept_type}")
    known_auth = _AUTH_TYPES.get(auth_type)
    if known_auth is None:
        raise ParsecError(Status.AUTHENTICATOR_DOES_NOT_EXIST, f"auth type {auth_type}")
    known_opcode = _OPCODES.get(opcode)
    if known_opcode is None:
        raise ParsecError(Status.OPCODE_DOES_NOT_EXIST, f"opcode {opcode:#x}")
    known_provider = _PROVIDERS.get(provider)
    if known_provider is None:
        raise ParsecError(Status.PROVIDER_DOES_NOT_EXIST, f"provider {provider}")
    header = RequestHeader(
        provider=known_provider,
        session=session,
        content_type=BodyType.PROTOBUF,
        accept_type=BodyType.PROTOBUF,
        auth_type=known_auth,
        opcode=known_opcode,
        flags=flags,
        status=status,
    )
    return Request(header, body, auth)


def read_response(recv_exactly: RecvExactly) -> Response:
    """Client side: read one response (no body limit, as Parsec's clients) and check it like the service would."""
    prefix = _recv(recv_exactly, 6, "the response header")
    if prefix[:4] != _MAGIC_BYTES:
        raise ParsecError(Status.INVALID_HEADER, "the response's magic number is wrong")
    header_size = _U16.unpack_from(prefix, 4)[0]
    rest = _recv(recv_exactly, header_size, "the response header")
    data = prefix + rest
    if header_size == HEADER_SIZE:
        body_len = _U32.unpack_from(data, 22)[0]
        data += _recv(recv_exactly, body_len, "the response body") if body_len else b""
    return decode_response(data)


def bytes_reader(data: bytes) -> RecvExactly:
    """A `recv_exactly` over a byte string; EOFError when it runs out (for tests, fuzzing and replays)."""
    view = memoryview(data)
    offset = 0

    def recv_exactly(size: int) -> bytes:
        nonlocal offset
        if offset + size > len(view):
            raise EOFError(f"stream ended after {len(view)} bytes, {offset + size} wanted")
        chunk = bytes(view[offset : offset + size])
        offset += size
        return chunk

    return recv_exactly


def socket_reader(sock: socket.socket) -> RecvExactly:
    """A `recv_exactly` over a connected stream socket; EOFError if the peer closes early."""

    def recv_exactly(size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        received = 0
        while received < size:
            count = sock.recv_into(view[received:])
            if count == 0:
                raise EOFError(f"peer closed the connection after {received} of {size} bytes")
            received += count
        return bytes(buffer)

    return recv_exactly
