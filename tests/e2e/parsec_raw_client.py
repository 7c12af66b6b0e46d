"""An independent, standard-library-only Parsec client: wire header, a little protobuf, one connection per request.

Written from Parsec's documents (parsec-facts §1–§3), sharing no code with `refimpl`, so the conformance sequence it
drives checks the service against Parsec's protocol rather than against our own codec. It runs under Debian's
`/usr/bin/python3` as another Unix user (the venv under /root is closed to other uids; providers-on-debian.md §7):

    /usr/bin/python3 parsec_raw_client.py SOCKET < requests.hex > replies.hex

sends each hex-encoded request of stdin on a fresh connection and prints each reply in hex ("" when the service
closed without answering). Tests import the same module to build requests and read replies.
"""

from __future__ import annotations

import socket
import struct
import sys

HEADER = struct.Struct("<IHBBHBQBBBIHIHBB")
MAGIC = 0x5EC0A710

# Opcodes, providers, auth types and statuses: Parsec's numbers (parsec-facts §2).
PING, GENERATE_KEY, DESTROY_KEY, SIGN_HASH, VERIFY_HASH = 1, 2, 3, 4, 5
EXPORT_PUBLIC_KEY, LIST_PROVIDERS, LIST_OPCODES, LIST_AUTHENTICATORS, LIST_KEYS = 7, 8, 9, 14, 26
LIST_CLIENTS, DELETE_CLIENT, GENERATE_RANDOM = 27, 28, 13
CORE, MBED_CRYPTO, PKCS11, TPM = 0, 1, 2, 3
NO_AUTH, DIRECT, JWT, UNIX_PEER_CREDENTIALS, JWT_SVID = 0, 1, 2, 3, 4


def request(
    provider: int,
    opcode: int,
    body: bytes = b"",
    auth_type: int = NO_AUTH,
    auth: bytes = b"",
    *,
    magic: int = MAGIC,
    header_size: int = 30,
    version: tuple[int, int] = (1, 0),
    flags: int = 0,
    session: int = 0,
    content_type: int = 0,
    accept_type: int = 0,
    body_len: int | None = None,
    auth_len: int | None = None,
    status: int = 0,
    reserved: tuple[int, int] = (0, 0),
) -> bytes:
    """header ‖ body ‖ auth; every header field can be set to a wrong value."""
    header = HEADER.pack(
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
        len(body) if body_len is None else body_len,
        len(auth) if auth_len is None else auth_len,
        opcode,
        status,
        reserved[0],
        reserved[1],
    )
    return header + body + auth


def exchange(path: str, data: bytes, shutdown_write: bool = False, timeout: float = 30.0) -> bytes:
    """Send `data` on a fresh connection and return everything received until the service closes it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(data)
        if shutdown_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


HEADER_FIELDS = (
    "magic",
    "header_size",
    "version_maj",
    "version_min",
    "flags",
    "provider",
    "session",
    "content_type",
    "accept_type",
    "auth_type",
    "body_len",
    "auth_len",
    "opcode",
    "status",
    "reserved1",
    "reserved2",
)
"""The response header's fields, in wire order (`HEADER`'s)."""


def parse(reply: bytes) -> tuple[dict[str, int], bytes]:
    """A reply's header fields and body; raises ValueError if it is not one well-formed response."""
    if len(reply) < HEADER.size:
        raise ValueError(f"reply of {len(reply)} bytes is shorter than a header")
    fields = dict(zip(HEADER_FIELDS, HEADER.unpack_from(reply), strict=True))
    body = reply[HEADER.size :]
    if fields["magic"] != MAGIC or fields["header_size"] != 30 or len(body) != fields["body_len"]:
        raise ValueError(f"malformed reply header {fields}")
    return fields, body


def status_of(reply: bytes) -> int:
    return parse(reply)[0]["status"]


# ------------------------------------------------------------------------------------------------ protobuf


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value) if value else b""


def field_bytes(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def read_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of a message: varints as ints, length-delimited fields as bytes."""
    fields: list[tuple[int, int | bytes]] = []
    offset = 0

    def read_varint() -> int:
        nonlocal offset
        shift = result = 0
        while True:
            byte = data[offset]
            offset += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while offset < len(data):
        key = read_varint()
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            fields.append((number, read_varint()))
        elif wire_type == 2:
            length = read_varint()
            fields.append((number, data[offset : offset + length]))
            offset += length
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
    return fields


def packed_varints(data: bytes) -> list[int]:
    """The values of a packed repeated uint32 field (proto3's default encoding)."""
    values, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append(value)
            value, shift = 0, 0
    return values


# ----------------------------------------------------------------------------------------- request bodies

SHA_256 = 7  # psa_algorithm.Algorithm.Hash
SECP_R1 = 2  # psa_key_attributes.KeyType.EccFamily


def ecdsa_sha256() -> bytes:
    """AsymmetricSignature { ecdsa { hash_alg { specific: SHA_256 } } }"""
    return field_bytes(4, field_bytes(1, field_varint(2, SHA_256)))


def p256_signing_attributes() -> bytes:
    """KeyAttributes: ECC key pair on SECP_R1, 256 bits, sign_hash|verify_hash, ECDSA(SHA-256)."""
    key_type = field_bytes(11, field_varint(1, SECP_R1))
    usage = field_varint(8, 1) + field_varint(9, 1)
    algorithm = field_bytes(6, ecdsa_sha256())
    policy = field_bytes(1, usage) + field_bytes(2, algorithm)
    return field_bytes(1, key_type) + field_varint(2, 256) + field_bytes(3, policy)


def generate_key(name: str) -> bytes:
    return field_bytes(1, name.encode()) + field_bytes(2, p256_signing_attributes())


def key_name_only(name: str) -> bytes:
    return field_bytes(1, name.encode())


def sign_hash(name: str, digest: bytes) -> bytes:
    return field_bytes(1, name.encode()) + field_bytes(2, ecdsa_sha256()) + field_bytes(3, digest)


def verify_hash(name: str, digest: bytes, signature: bytes) -> bytes:
    return sign_hash(name, digest) + field_bytes(4, signature)


def list_opcodes(provider: int) -> bytes:
    return field_varint(1, provider)


def delete_client(name: str) -> bytes:
    return field_bytes(1, name.encode())


# --------------------------------------------------------------------------------------------------- main


def main() -> int:
    path = sys.argv[1]
    for line in sys.stdin:
        if line.strip():
            print(exchange(path, bytes.fromhex(line.strip())).hex(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
