"""The fixed 36-byte header of Parsec's wire protocol 1.0, and requests and responses built on it.

Parsec's `WireHeader` (ifc:src/requests/common/wire_header_1_0.rs), `RequestHeader`/`ResponseHeader`
(ifc:src/requests/{request,response}/*_header.rs) and `Response::from_status`/`from_request_header`
(ifc:src/requests/response/mod.rs); parsec-facts §1.1–1.2. Requests and responses share one little-endian layout
with no padding, packed with one `struct.Struct`. Header fields are raw ints, so a test or a fuzzer can put any
value on the wire; `refimpl.wire.framing.read_request` only returns headers whose values it has validated (and
then holds `Opcode`/`ProviderId`/`AuthType` members in them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from refimpl.errors import ParsecError
from refimpl.ids import BodyType, Opcode, ProviderId, Status

HEADER = struct.Struct("<IHBBHBQBBBIHIHBB")
"""magic, header size, version maj, version min, flags, provider, session, content type, accept type, auth type,
body length, auth length, opcode, status, reserved1, reserved2."""

MAGIC = 0x5EC0A710
HEADER_SIZE = 30
"""The header-size field: the bytes after the magic number and the size field itself."""
FIXED_HEADER_LEN = HEADER.size  # 36
PREFIX_LEN = 6
"""Magic number and header-size field: what is read before the rest of the header."""
VERSION_MAJ, VERSION_MIN = 1, 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHeader:
    """A request header. Lengths are not fields: they come from the body and auth that travel with it."""

    provider: int
    opcode: int
    auth_type: int
    session: int = 0
    content_type: int = BodyType.PROTOBUF
    accept_type: int = BodyType.PROTOBUF
    flags: int = 0
    status: int = 0  # ignored by the service (e2e basic.rs::status_ignored)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseHeader:
    """A response header: provider, session and opcode echo the request (or are 0/0/Ping before it was parsed)."""

    provider: int
    session: int
    content_type: int
    opcode: int
    status: int
    flags: int = 0


@dataclass(frozen=True, slots=True)
class Request:
    header: RequestHeader
    body: bytes
    auth: bytes


@dataclass(frozen=True, slots=True)
class Response:
    header: ResponseHeader
    body: bytes

    @classmethod
    def from_status(cls, status: Status) -> Response:
        """The reply to an error found before the header was parsed: provider 0, session 0, opcode Ping."""
        header = ResponseHeader(
            provider=ProviderId.CORE,
            session=0,
            content_type=BodyType.PROTOBUF,
            opcode=Opcode.PING,
            status=status,
        )
        return cls(header, b"")

    @classmethod
    def for_request(cls, request_header: RequestHeader, status: Status, body: bytes = b"") -> Response:
        """A reply that echoes the request's provider, session and opcode; its content type is the accept type."""
        header = ResponseHeader(
            provider=request_header.provider,
            session=request_header.session,
            content_type=request_header.accept_type,
            opcode=request_header.opcode,
            status=status,
        )
        return cls(header, body)

    @property
    def status(self) -> Status:
        """The status as a `Status`; an unknown code reads as InvalidEncoding, as parsec-interface's client does."""
        try:
            return Status(self.header.status)
        except ValueError:
            return Status.INVALID_ENCODING


def encode_header(
    *,
    provider: int,
    session: int,
    content_type: int,
    accept_type: int,
    auth_type: int,
    body_len: int,
    auth_len: int,
    opcode: int,
    status: int,
    flags: int = 0,
    magic: int = MAGIC,
    header_size: int = HEADER_SIZE,
    version: tuple[int, int] = (VERSION_MAJ, VERSION_MIN),
    reserved: tuple[int, int] = (0, 0),
) -> bytes:
    """Pack any 36-byte header, including invalid ones (wrong magic, version, reserved bytes) for tests."""
    try:
        return HEADER.pack(
            magic,
            header_size,
            version[0],
            version[1],
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
            reserved[0],
            reserved[1],
        )
    except struct.error as error:
        raise ValueError(f"a header field does not fit its wire width: {error}") from None


def encode_request(request: Request) -> bytes:
    """header ‖ body ‖ auth, with the body and auth lengths taken from the data."""
    header = request.header
    return (
        encode_header(
            provider=header.provider,
            session=header.session,
            content_type=header.content_type,
            accept_type=header.accept_type,
            auth_type=header.auth_type,
            body_len=len(request.body),
            auth_len=len(request.auth),
            opcode=header.opcode,
            status=header.status,
            flags=header.flags,
        )
        + request.body
        + request.auth
    )


def encode_response(response: Response) -> bytes:
    """header ‖ body; accept type, auth type and auth length are 0 in responses."""
    header = response.header
    return (
        encode_header(
            provider=header.provider,
            session=header.session,
            content_type=header.content_type,
            accept_type=0,
            auth_type=0,
            body_len=len(response.body),
            auth_len=0,
            opcode=header.opcode,
            status=header.status,
            flags=header.flags,
        )
        + response.body
    )


def check_prefix(prefix: bytes) -> int:
    """Check the magic number of the first 6 bytes and return the header-size field (facts §1.2 step 1)."""
    magic, header_size = struct.unpack_from("<IH", prefix)
    if magic != MAGIC:
        raise ParsecError(Status.INVALID_HEADER, f"magic number {magic:#010x} is not {MAGIC:#010x}")
    return int(header_size)


def check_fixed_fields(header_size: int, version_maj: int, version_min: int, reserved1: int, reserved2: int) -> None:
    """Facts §1.2 steps 2–4, in Parsec's order: header size, then version, then the reserved bytes."""
    if header_size != HEADER_SIZE:
        raise ParsecError(Status.INVALID_HEADER, f"header size {header_size} is not {HEADER_SIZE}")
    if (version_maj, version_min) != (VERSION_MAJ, VERSION_MIN):
        raise ParsecError(
            Status.WIRE_PROTOCOL_VERSION_NOT_SUPPORTED, f"wire protocol version {version_maj}.{version_min} is not 1.0"
        )
    if reserved1 or reserved2:
        raise ParsecError(Status.INVALID_HEADER, f"reserved bytes are {reserved1:#04x} {reserved2:#04x}, not zero")


def decode_response(data: bytes) -> Response:
    """Parse a whole response (client side): header checks as the service's, then exactly `body_len` bytes."""
    if len(data) < PREFIX_LEN:
        raise ParsecError(Status.CONNECTION_ERROR, f"response of {len(data)} bytes ends inside the header")
    header_size = check_prefix(data)
    if len(data) < PREFIX_LEN + header_size:
        raise ParsecError(Status.CONNECTION_ERROR, f"response of {len(data)} bytes ends inside the header")
    if header_size != HEADER_SIZE:
        raise ParsecError(Status.INVALID_HEADER, f"header size {header_size} is not {HEADER_SIZE}")
    fields = HEADER.unpack_from(data)
    (_, _, ver_maj, ver_min, flags, provider, session, content_type, _, _, body_len, _, opcode, status, r1, r2) = fields
    check_fixed_fields(header_size, ver_maj, ver_min, r1, r2)
    body = data[FIXED_HEADER_LEN:]
    if len(body) != body_len:
        raise ParsecError(Status.CONNECTION_ERROR, f"response body is {len(body)} bytes, header says {body_len}")
    header = ResponseHeader(
        provider=provider, session=session, content_type=content_type, opcode=opcode, status=status, flags=flags
    )
    return Response(header, body)
