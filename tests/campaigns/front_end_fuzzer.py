"""An in-process fuzzer of the front end and the wire codec: any bytes in, one well-formed Parsec response out.

The seed's threats A1-D-2 and A1-E-1 (a client sends a malformed request to crash or subvert the service; M-5,
M-0). The target is the front end's bytes-in entry point, `FrontEndHandler.process(recv_exactly, peer)`, of the
real pipeline (Direct, UnixPeerCredentials and JwtSvid authenticators — the last fed by a Workload API server in
this process — dispatcher, Core and the software provider, a SQLite key info manager), called directly: no
socket, no thread, so a million inputs take minutes.

Inputs come from a fast mutation loop of our own (Hypothesis draws a few thousand examples a second, too few for
a million, and atheris needs clang): seeds are well-formed requests for every operation family and the golden wire
vectors made by Parsec's Rust library; each input stacks one to four mutations (bit flips, interesting bytes, a
header field set to an edge value, a body mutated with its lengths fixed up so it reaches the protobuf decoder,
truncation, splices of two requests, another tenant's name or UID, a JWT-SVID with odd header fields or claims —
`alg: none`, audiences, subjects outside the trust domain, huge or non-numeric expiry — or broken segments). An
input whose reply shows something new (opcode, status, body size class) joins the corpus, a cheap coverage signal.

For every input the oracle checks, independently of the front end's own code:

* `process` returned (an exception out of it is a crash of the connection's worker: *uncaught*);
* the reply, encoded, parses with the client-side codec (`decode_response`): magic, header size 30, version 1.0,
  reserved bytes zero, body length as stated; its status is a `Status`;
* it echoes the request: provider, session and opcode as sent, and the content type is the request's accept
  type — or, when the request failed before its header was trusted, provider 0, session 0, opcode Ping, and the
  status the framing rules give (`read_request` on the same bytes);
* a success reply's body decodes as that opcode's result (`decode_result`);
* nothing was answered PsaErrorGenericError because an unexpected exception escaped a provider (the front end's
  catch-all logs it at ERROR; such a reply is well-formed but still a bug: *internal errors*);
* the client-side codec, fed the same bytes as if they were a response, raises nothing but `ParsecError`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import struct
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from refimpl.errors import ParsecError
from refimpl.front.listener import PeerCredentials
from refimpl.ids import AuthType, BodyType, Opcode, ProviderId, Status
from refimpl.operations import (
    OPCODE_OF,
    AeadEncrypt,
    AsymmetricEncrypt,
    CanDoCrypto,
    CheckType,
    DestroyKey,
    ExportKey,
    ExportPublicKey,
    GenerateKey,
    GenerateRandom,
    HashCompare,
    HashCompute,
    ImportKey,
    ListAuthenticators,
    ListClients,
    ListKeys,
    ListOpcodes,
    ListProviders,
    Ping,
    SignHash,
    SignMessage,
    VerifyHash,
)
from refimpl.psa import types as t
from refimpl.service import Pipeline
from refimpl.wire.codec import decode_result, encode_operation
from refimpl.wire.framing import bytes_reader, read_request
from refimpl.wire.header import (
    HEADER,
    HEADER_SIZE,
    MAGIC,
    Request,
    RequestHeader,
    decode_response,
    encode_request,
    encode_response,
)
from tests.e2e.parsec_raw_client import HEADER_FIELDS
from tests.refimpl.pipeline import in_process_pipeline

TENANTS = (b"tenant-a", b"tenant-b", b"admin")
"""Direct application names the seeds use ("admin" is the configured admin)."""
UIDS = (0, 1000, 1001)
"""Peer UIDs the UnixPeerCredentials seeds claim and the peer reports (0 is the admin)."""
AUTHENTICATORS: list[dict[str, Any]] = [
    {"auth_type": "Direct", "admins": [{"name": "admin"}]},
    {"auth_type": "UnixPeerCredentials", "admins": [{"name": "0"}]},
]
JWT_TENANTS = ("spiffe://example.org/tenant-a", "spiffe://example.org/tenant-b")
"""SPIFFE IDs the fuzzing campaign's Workload API gives this process JWT-SVIDs for."""
TOKEN_LIFETIME = 24 * 3600.0
"""The seed tokens' lifetime: longer than any campaign, so that expiry does not end the valid paths."""
BUNDLE_WAIT = 20.0
"""Seconds to wait for the JwtSvid authenticator's first bundle before the campaign gives up."""
BODY_LEN_LIMIT = 1 << 16
"""The service's body_len_limit here: small, so that oversized requests are found, not allocated."""
PRE_TRUST_OPCODE, PRE_TRUST_PROVIDER, PRE_TRUST_SESSION = Opcode.PING, ProviderId.CORE, 0
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
INTERESTING_INTS = (0, 1, 2, 3, 4, 9, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF)
FIELD_BITS = dict(zip(HEADER_FIELDS, (32, 16, 8, 8, 16, 8, 64, 8, 8, 8, 32, 16, 32, 16, 8, 8), strict=True))
CORPUS_LIMIT = 4096


# ------------------------------------------------------------------------------------------ seeds

P256_SIGN = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1),
    256,
    t.KeyPolicy(
        t.UsageFlags(sign_hash=True, verify_hash=True, sign_message=True, export=True), t.Ecdsa(t.Hash.SHA_256)
    ),
)
AES_GCM = t.KeyAttributes(
    t.Aes(),
    128,
    t.KeyPolicy(t.UsageFlags(encrypt=True, decrypt=True), t.AeadDefaultTag(t.AeadWithDefaultLengthTag.GCM)),
)
RSA_CRYPT = t.KeyAttributes(t.RsaPublicKey(), 0, t.KeyPolicy(t.UsageFlags(encrypt=True), t.RsaOaep(t.Hash.SHA_256)))


def rsa_public_key() -> bytes:
    """A fresh RSA-2048 public key in PSA's export format (PKCS#1 RSAPublicKey): importable, usable to encrypt."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


RSA_PUBLIC_DER = rsa_public_key()
DIGEST = bytes(range(32))


def seed_operations() -> list[Any]:
    """One well-formed operation per family the software provider serves, on the keys `prepare` creates."""
    return [
        Ping(),
        ListProviders(),
        ListOpcodes(ProviderId.MBED_CRYPTO),
        ListAuthenticators(),
        ListKeys(),
        ListClients(),
        GenerateKey("fuzz-p256", P256_SIGN),
        GenerateKey("fuzz-aes", AES_GCM),
        ImportKey("fuzz-rsa-public", RSA_CRYPT, RSA_PUBLIC_DER),
        SignHash("k-sign", t.Ecdsa(t.Hash.SHA_256), DIGEST),
        VerifyHash("k-sign", t.Ecdsa(t.Hash.SHA_256), DIGEST, bytes(64)),
        SignMessage("k-sign", t.Ecdsa(t.Hash.SHA_256), b"message"),
        ExportPublicKey("k-sign"),
        ExportKey("k-sign"),
        AeadEncrypt("k-aead", t.AeadDefaultTag(t.AeadWithDefaultLengthTag.GCM), bytes(12), b"ad", b"plaintext"),
        AsymmetricEncrypt("k-rsa", t.RsaOaep(t.Hash.SHA_256), b"plaintext", None),
        HashCompute(t.Hash.SHA_256, b"data"),
        HashCompare(t.Hash.SHA_256, b"data", DIGEST),
        GenerateRandom(32),
        CanDoCrypto(CheckType.GENERATE, P256_SIGN),
        DestroyKey("fuzz-p256"),
    ]


def request_bytes(operation: Any, auth_type: AuthType, auth: bytes, session: int = 0) -> bytes:
    opcode = OPCODE_OF[type(operation)]
    provider = ProviderId.CORE if opcode.is_core else ProviderId.MBED_CRYPTO
    header = RequestHeader(provider=provider, opcode=opcode, auth_type=auth_type, session=session)
    return encode_request(Request(header, encode_operation(operation), auth))


@dataclass(frozen=True)
class Caller:
    """Who a seed request is from: its auth type and field, and the UID the kernel reports for its connection."""

    auth_type: AuthType
    auth: bytes
    uid: int


def callers(tokens: Sequence[str] = ()) -> list[Caller]:
    """Each Direct tenant, each UID with peer credentials, and a JWT-SVID caller for each token."""
    found = [Caller(AuthType.DIRECT, tenant, 0) for tenant in TENANTS]
    found += [Caller(AuthType.UNIX_PEER_CREDENTIALS, struct.pack("<I", uid), uid) for uid in UIDS]
    found += [Caller(AuthType.JWT_SVID, token.encode(), os.getuid()) for token in tokens]
    return found


def seed_inputs(vectors: Path | None, tokens: Sequence[str] = ()) -> list[bytes]:
    """Every seed operation from every caller and without authentication, plus the golden request vectors."""
    seeds: list[bytes] = []
    for index, operation in enumerate(seed_operations()):
        seeds += [request_bytes(operation, caller.auth_type, caller.auth, index) for caller in callers(tokens)]
        seeds.append(request_bytes(operation, AuthType.NO_AUTH, b""))
    if vectors is not None:
        seeds += [path.read_bytes() for path in sorted(vectors.glob("*.req.bin"))]
    return seeds


def peer_of(uid: int) -> Callable[[], PeerCredentials]:
    """What the kernel reports of a client process of user `uid`."""
    credentials = PeerCredentials(1, uid, uid)
    return lambda: credentials


def prepare(pipeline: Pipeline, tokens: Sequence[str] = ()) -> None:
    """The keys the seeds use, for every caller: a signing key, an AEAD key, an RSA public key. JWT-SVID callers
    wait for the authenticator's first bundle from the Workload API."""
    keys = [
        GenerateKey("k-sign", P256_SIGN),
        GenerateKey("k-aead", AES_GCM),
        ImportKey("k-rsa", RSA_CRYPT, RSA_PUBLIC_DER),
    ]
    for caller in callers(tokens):
        for operation in keys:
            deadline = time.monotonic() + BUNDLE_WAIT
            while True:
                data = request_bytes(operation, caller.auth_type, caller.auth)
                reply = pipeline.front_end.respond(bytes_reader(data), peer_of(caller.uid))
                if reply.status is Status.SUCCESS:
                    break
                if caller.auth_type != AuthType.JWT_SVID or time.monotonic() > deadline:
                    raise RuntimeError(f"preparing {operation!r} failed: {reply.status.parsec_name}")
                time.sleep(0.05)


# ------------------------------------------------------------------------------------------ mutations

Mutator = Callable[[random.Random, bytes, list[bytes]], bytes]


def _flip_bit(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    buffer = bytearray(data)
    position = rng.randrange(min(len(buffer), 36)) if rng.random() < 0.6 else rng.randrange(len(buffer))
    buffer[position] ^= 1 << rng.randrange(8)
    return bytes(buffer)


def _interesting_byte(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    if not data:
        return bytes([rng.choice(INTERESTING_BYTES)])
    buffer = bytearray(data)
    buffer[rng.randrange(len(buffer))] = rng.choice(INTERESTING_BYTES)
    return bytes(buffer)


def _header_field(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    """One of the 16 header fields set to an edge value, a random value or a neighbour of its own."""
    if len(data) < HEADER.size:
        return data
    values = list(HEADER.unpack_from(data))
    index = rng.randrange(len(values))
    bits = FIELD_BITS[HEADER_FIELDS[index]]
    choice = rng.random()
    if choice < 0.4:
        value = rng.choice(INTERESTING_INTS)
    elif choice < 0.7:
        value = values[index] + rng.choice((-1, 1))
    else:
        value = rng.getrandbits(bits)
    values[index] = value % (1 << bits)
    return HEADER.pack(*values) + data[HEADER.size :]


def _known_field(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    """Opcode, provider or auth type set to another known value: a well-formed header the service must route."""
    if len(data) < HEADER.size:
        return data
    values = list(HEADER.unpack_from(data))
    which = rng.randrange(3)
    if which == 0:
        values[12] = int(rng.choice(list(Opcode)))
    elif which == 1:
        values[5] = int(rng.choice(list(ProviderId)))
    else:
        values[9] = int(rng.choice(list(AuthType)))
    return HEADER.pack(*values) + data[HEADER.size :]


def _split(data: bytes) -> tuple[list[int], bytes, bytes, bytes] | None:
    """(header fields, body, auth, trailing bytes) of a request whose lengths fit its size, else None."""
    if len(data) < HEADER.size:
        return None
    values = list(HEADER.unpack_from(data))
    body_len, auth_len = values[10], values[11]
    end = HEADER.size + body_len + auth_len
    if end > len(data):
        return None
    body = data[HEADER.size : HEADER.size + body_len]
    return values, body, data[HEADER.size + body_len : end], data[end:]


def _join(values: list[int], body: bytes, auth: bytes, trailing: bytes = b"") -> bytes:
    values[10], values[11] = len(body), len(auth) & 0xFFFF
    return HEADER.pack(*values) + body + auth + trailing


def _mutate_body(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    """Flip, overwrite, insert or delete bytes inside the body and fix up body_len: the protobuf decoder sees it."""
    parts = _split(data)
    if parts is None:
        return _flip_bit(rng, data, corpus)
    values, body, auth, trailing = parts
    buffer = bytearray(body)
    action = rng.randrange(5)
    position = rng.randrange(len(buffer) + 1)
    if action == 0 and buffer:
        buffer[min(position, len(buffer) - 1)] ^= 1 << rng.randrange(8)
    elif action == 1 and buffer:
        buffer[min(position, len(buffer) - 1)] = rng.choice(INTERESTING_BYTES)
    elif action == 2:
        buffer[position:position] = rng.randbytes(rng.choice((1, 1, 2, 4, 16)))
    elif action == 3 and buffer:
        del buffer[position : position + rng.choice((1, 1, 2, 8))]
    else:  # a varint-ish run: protobuf length prefixes and tags are where decoders go wrong
        buffer[position:position] = bytes([0xFF] * rng.randrange(1, 11))
    return _join(values, bytes(buffer), auth, trailing)


def _mutate_auth(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    """Another tenant's name or UID, an empty, a long or a non-UTF-8 auth field; lengths fixed up."""
    parts = _split(data)
    if parts is None:
        return data
    values, body, _, trailing = parts
    options = [
        *TENANTS,
        *(struct.pack("<I", uid) for uid in UIDS),
        b"",
        b"\xff\xfe",
        b"a" * rng.choice((3, 255, 4096)),
        b"tenant\x00-a",
        b"tenant-a\nforged log line",
        rng.randbytes(rng.randrange(1, 9)),
    ]
    return _join(values, body, rng.choice(options), trailing)


JWT_HEADER_VALUES: dict[str, tuple[object, ...]] = {
    "alg": ("none", "None", "HS256", "RS256", "ES384", "PS512", "EdDSA", "", 1, None, ["ES256"]),
    "kid": ("", "x" * 300, 0, None, [], {"k": 1}, "../../etc/passwd"),
    "typ": ("JWT", "JOSE", "", 7, None),
    "crit": (["exp"], [], "exp", None),
}
JWT_CLAIM_VALUES: dict[str, tuple[object, ...]] = {
    "aud": (["parsec"], "parsec", [], ["other"], ["parsec", "other"], 5, None, [None], {"a": 1}),
    "sub": (
        "spiffe://example.org/tenant-b",
        "spiffe://other.org/tenant-a",
        "spiffe://example.org/../tenant-b",
        "spiffe://EXAMPLE.org/tenant-a",
        "spiffe://example.org",
        "",
        "tenant-a",
        None,
        7,
        "spiffe://example.org/" + "a" * 3000,
    ),
    "exp": (0, -1, 1, 2**31, 2**63, 2**64 + 1, 1e308, "tomorrow", None, [1], float("nan")),
    "iat": (0, -1, 2**63, "now", None),
    "nbf": (2**40, 0, "later"),
}


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _mutate_token(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    """A JWT-SVID auth field changed where a token parser can go wrong: header and claims set to odd values (the
    signature then no longer matches, which is checked after parsing), characters, segments, truncation."""
    parts = _split(data)
    if parts is None or not parts[2].startswith(b"eyJ"):
        return _mutate_auth(rng, data, corpus)
    values, body, token, trailing = parts
    segments = token.split(b".")
    action = rng.randrange(6)
    if action in (0, 1) and len(segments) == 3:
        index, table = (0, JWT_HEADER_VALUES) if action == 0 else (1, JWT_CLAIM_VALUES)
        try:
            document = json.loads(_unb64(segments[index]))
        except ValueError:
            document = {}
        if isinstance(document, dict):
            name = rng.choice(sorted(table))
            if rng.random() < 0.15:
                document.pop(name, None)
            else:
                document[name] = rng.choice(table[name])
            segments[index] = _b64(json.dumps(document).encode())
        else:
            segments[index] = _b64(b"[]")
    elif action == 2:
        index = rng.randrange(len(segments))
        segment = bytearray(segments[index])
        if segment:
            segment[rng.randrange(len(segment))] = rng.choice(b"AZaz09-_=+/.%")
        segments[index] = bytes(segment)
    elif action == 3:
        segments = segments[: rng.randrange(len(segments) + 1)] + ([b""] if rng.random() < 0.5 else [])
    elif action == 4:
        segments[-1] = rng.choice((b"", b"AAAA", _b64(rng.randbytes(rng.choice((1, 64, 512))))))
    else:
        return _join(values, body, token[: rng.randrange(len(token) + 1)], trailing)
    return _join(values, body, b".".join(segments), trailing)


def _truncate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _append(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    return data + rng.randbytes(rng.choice((1, 4, 36, 100)))


def _splice(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    """This input's header with another's body (an opcode meeting a body it did not expect), or two halves."""
    other = rng.choice(corpus)
    mine, theirs = _split(data), _split(other)
    if mine is not None and theirs is not None and rng.random() < 0.7:
        return _join(mine[0], theirs[1], mine[2])
    cut = rng.randrange(len(data) + 1)
    return data[:cut] + other[rng.randrange(len(other) + 1) :]


def _random_bytes(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    prefix = struct.pack("<IH", MAGIC, HEADER_SIZE) if rng.random() < 0.5 else b""
    return prefix + rng.randbytes(rng.randrange(0, 80))


MUTATORS: tuple[tuple[Mutator, int], ...] = (
    (_flip_bit, 10),
    (_interesting_byte, 6),
    (_header_field, 12),
    (_known_field, 8),
    (_mutate_body, 22),
    (_mutate_auth, 6),
    (_mutate_token, 6),
    (_truncate, 5),
    (_append, 3),
    (_splice, 6),
    (_random_bytes, 2),
)


# ------------------------------------------------------------------------------------------ oracle


@dataclass
class Finding:
    """An input the oracle rejected, with what was wrong (a traceback for an exception)."""

    kind: str
    detail: str
    data: bytes

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}\n  input ({len(self.data)} bytes): {self.data[:200].hex()}"


@dataclass
class FuzzReport:
    """What a campaign ran and found: the figures a bench prints and a test asserts on."""

    inputs: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    opcodes_answered: set[int] = field(default_factory=set)
    """Opcodes of replies that echoed the request (the header was trusted and routed)."""
    successes: int = 0
    successes_by_auth: Counter[str] = field(default_factory=Counter)
    """Successful requests by the auth type of their header: how deep each authenticator's path was reached."""
    corpus_size: int = 0
    uncaught: list[Finding] = field(default_factory=list)
    malformed: list[Finding] = field(default_factory=list)
    internal_errors: list[Finding] = field(default_factory=list)
    codec_errors: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [*self.uncaught, *self.malformed, *self.internal_errors, *self.codec_errors]

    def summary(self) -> str:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        return (
            f"{self.inputs:,} inputs in {self.seconds:.1f} s ({rate:,.0f}/s); "
            f"{len(self.uncaught)} uncaught exceptions, "
            f"{len(self.malformed)} malformed replies, {len(self.internal_errors)} internal errors, "
            f"{len(self.codec_errors)} client-codec errors; {self.successes:,} successes, "
            f"{len(self.opcodes_answered)} opcodes answered, {len(self.statuses)} distinct statuses, "
            f"successes by auth type {dict(sorted(self.successes_by_auth.items()))}, "
            f"corpus {self.corpus_size}"
        )


class ErrorRecords(logging.Handler):
    """Collects the service's ERROR records: an unexpected exception the front end turned into GenericError."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def check_reply(data: bytes, wire: bytes) -> tuple[str | None, bool]:
    """(what is wrong with `wire`, the encoded reply to request bytes `data`, or None; whether the request's header
    was trusted, so that the reply echoes it)."""
    try:
        reply = decode_response(wire)
    except ParsecError as error:
        return f"the reply does not parse: {error.status.parsec_name} ({error.detail})", False
    magic, header_size, version_maj, version_min = struct.unpack_from("<IHBB", wire)
    if (magic, header_size, version_maj, version_min) != (MAGIC, HEADER_SIZE, 1, 0):
        return f"reply prefix {magic:#x}/{header_size}/{version_maj}.{version_min}", False
    header = reply.header
    if header.status not in Status._value2member_map_:
        return f"status {header.status} is not a Parsec status", False
    status = Status(header.status)
    try:
        request = read_request(bytes_reader(data), BODY_LEN_LIMIT)
    except ParsecError as error:
        expected = (PRE_TRUST_PROVIDER, PRE_TRUST_SESSION, PRE_TRUST_OPCODE, error.status)
        got = (header.provider, header.session, header.opcode, status)
        if got != expected:
            return f"a request refused before its header was trusted got {got}, expected {expected}", False
        return None, False
    sent = request.header
    if (header.provider, header.session, header.opcode) != (int(sent.provider), sent.session, int(sent.opcode)):
        return (
            f"reply echoes provider/session/opcode {header.provider}/{header.session}/{header.opcode}, "
            f"request had {int(sent.provider)}/{sent.session}/{int(sent.opcode)}"
        ), True
    if header.content_type != sent.accept_type or header.content_type != BodyType.PROTOBUF:
        return f"reply content type {header.content_type}, request accepts {sent.accept_type}", True
    if status is Status.SUCCESS:
        try:
            decode_result(Opcode(header.opcode), reply.body)
        except ParsecError as error:
            return f"a success reply's body does not decode: {error.status.parsec_name} ({error.detail})", True
    elif reply.body:
        return f"a {status.parsec_name} reply carries a {len(reply.body)}-byte body", True
    return None, True


def _size_class(size: int) -> int:
    return size.bit_length()


class FrontEndFuzzer:
    """The pipeline, the corpus and the random source of one campaign; `run(n)` feeds it n inputs."""

    def __init__(self, pipeline: Pipeline, seed: int, vectors: Path | None, tokens: Sequence[str] = ()) -> None:
        self.pipeline = pipeline
        self.rng = random.Random(seed)
        self.corpus = seed_inputs(vectors, tokens)
        self.seen: set[tuple[int, int, int]] = set()
        self.report = FuzzReport(corpus_size=len(self.corpus))
        self.errors = ErrorRecords()

    def next_input(self) -> bytes:
        rng = self.rng
        data = rng.choice(self.corpus)
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            mutator = rng.choices([m for m, _ in MUTATORS], weights=[w for _, w in MUTATORS])[0]
            data = mutator(rng, data, self.corpus)
        return data

    def _peer_uid(self, data: bytes) -> int:
        """Mostly the UID the request claims (the kernel would agree with an honest client), sometimes another."""
        parts = _split(data)
        if parts is not None and len(parts[2]) == 4 and self.rng.random() < 0.8:
            return int(struct.unpack("<I", parts[2])[0])
        return self.rng.choice(UIDS)

    def feed(self, data: bytes) -> None:
        """One input through the front end and the oracle; findings are recorded, never raised."""
        report = self.report
        report.inputs += 1
        uid = self._peer_uid(data)
        errors_before = len(self.errors.records)
        try:
            outcome = self.pipeline.front_end.process(bytes_reader(data), peer_of(uid))
            wire = encode_response(outcome.response)
        except Exception:
            report.uncaught.append(Finding("uncaught exception", traceback.format_exc(), data))
            return
        problem, trusted = check_reply(data, wire)
        if problem is not None:
            report.malformed.append(Finding("malformed reply", problem, data))
            return
        header = outcome.response.header
        status = Status(header.status)
        report.statuses[status.parsec_name] += 1
        if status is Status.SUCCESS:
            report.successes += 1
            report.successes_by_auth[AuthType(HEADER.unpack_from(data)[9]).name] += 1
        if len(self.errors.records) > errors_before:
            report.internal_errors.append(Finding("internal error", self.errors.records[-1], data))
        signature = (header.opcode, header.status, _size_class(len(outcome.response.body)))
        if trusted:
            report.opcodes_answered.add(header.opcode)
        if signature not in self.seen:
            self.seen.add(signature)
            if len(self.corpus) < CORPUS_LIMIT:
                self.corpus.append(data)
        try:
            decode_response(data)
        except ParsecError:
            pass
        except Exception:
            report.codec_errors.append(Finding("client codec raised", traceback.format_exc(), data))

    def run(self, count: int, progress: Callable[[int], None] | None = None) -> FuzzReport:
        """Feed `count` generated inputs; `progress(n)` is told every 1,000."""
        started = time.perf_counter()
        service_logger = logging.getLogger("refimpl")
        previous_level = service_logger.level
        service_logger.setLevel(logging.ERROR)  # warnings for every rejected request would cost more than the run
        service_logger.addHandler(self.errors)
        try:
            for done in range(1, count + 1):
                self.feed(self.next_input())
                if progress is not None and done % 1000 == 0:
                    progress(1000)
        finally:
            service_logger.removeHandler(self.errors)
            service_logger.setLevel(previous_level)
        self.report.seconds += time.perf_counter() - started
        self.report.corpus_size = len(self.corpus)
        return self.report


@contextmanager
def fuzzer(seed: int, vectors: Path | None, jwt_svid: bool = True) -> Iterator[FrontEndFuzzer]:
    """A fuzzer on a fresh in-process pipeline, its keys prepared; with `jwt_svid`, a Workload API in this process
    and the JwtSvid authenticator beside Direct and UnixPeerCredentials, its failure limit out of the way (so
    that every mutated token is evaluated, not refused by M-2 unread)."""
    import refimpl.spiffe_api  # noqa: F401  # py-spiffe imported where its one DSA deprecation warning is handled
    from tests.identity_provider.parts import fetch_token, running_idp

    service_logger = logging.getLogger("refimpl")
    level = service_logger.level
    service_logger.setLevel(logging.ERROR)  # the Direct authenticator's start-up warning is not a finding
    try:
        with ExitStack() as stack:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ptm-fuzz-", dir="/tmp")))
            authenticators = list(AUTHENTICATORS)
            tokens: list[str] = []
            if jwt_svid:
                idp = stack.enter_context(running_idp(scratch / "idp.sock", svid_ttl=TOKEN_LIFETIME))
                authenticators.append(
                    {"auth_type": "JwtSvid", "workload_endpoint": idp.endpoint, "max_failures": 1 << 30}
                )
                tokens = [fetch_token(idp.endpoint, spiffe_id) for spiffe_id in JWT_TENANTS]
            pipeline = stack.enter_context(in_process_pipeline(scratch, authenticators, body_len_limit=BODY_LEN_LIMIT))
            prepare(pipeline, tokens)
            yield FrontEndFuzzer(pipeline, seed, vectors, tokens)
    finally:
        service_logger.setLevel(level)
