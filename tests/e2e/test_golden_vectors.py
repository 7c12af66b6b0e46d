"""The golden wire vectors, replayed against `parsec-tm serve`: the service's replies are Parsec's bytes.

The vectors were made by Parsec's Rust protocol library (../shared/vectors/wire-1.0). Each request vector is sent
as it is over a real socket, in an order that makes it meaningful (generate before sign, destroy before "does not
exist"), and the reply is compared with the golden response: byte for byte where the answer is deterministic
(errors, empty results, ListKeys, HashCompute, Ping), and header plus a cryptographic check where it is not
(signatures, random bytes, public keys, ciphertexts — the golden ones are made-up patterns). Malformed requests
get exactly the golden error responses. `X.peer.req.bin` vectors (UnixPeerCredentials, uid 1000) are replayed by a
process running as uid 1000 against a UnixPeerCredentials service, and must get the same replies.

err_wrong_provider_id.resp.bin has no request that can produce it over the wire (the dispatcher routes by
provider ID); tests/refimpl/test_backend.py checks the back end produces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from refimpl.ids import Opcode
from refimpl.operations import OPCODE_OF, AsymmetricDecrypt, GenerateKey
from refimpl.psa import types as t
from refimpl.wire.codec import decode_result, encode_operation
from tests.e2e import parsec_raw_client as raw
from tests.e2e.helpers import UnixUser, run_as
from tests.fixtures.service import ServiceFactory, ServiceHandle, ServiceOptions
from tests.wire.vectors import entries, entry_named, read

pytestmark = pytest.mark.e2e

TENANT = "tenant-a"
UID_1000 = UnixUser("uid-1000", 1000, 1000)
RSA_ENCRYPTION = t.KeyAttributes(
    t.RsaKeyPair(), 2048, t.KeyPolicy(t.UsageFlags(encrypt=True, decrypt=True), t.RsaPkcs1v15Crypt())
)

Send = Callable[[bytes], bytes]


def golden(file: str) -> bytes:
    return read(file)


def same_header_except_length(reply: bytes, golden_reply: bytes) -> None:
    """Everything but body_len (bytes 22–25) equal: provider, session, content type, opcode, status, reserved."""
    assert reply[:22] == golden_reply[:22]
    assert reply[26:36] == golden_reply[26:36]


def body_of(reply: bytes) -> bytes:
    return raw.parse(reply)[1]


def with_header(file: str, provider: int, auth_type: int, auth: bytes) -> bytes:
    """The body of a request vector, re-framed with another provider or authentication."""
    entry = entry_named(file)
    return raw.request(provider, entry["opcode_id"], bytes.fromhex(entry["body_hex"]), auth_type, auth)


def replay(send: Send, suffix: str, auth_type: int, auth: bytes) -> None:
    """The whole sequence; `suffix` picks the Direct (".req.bin") or peer (".peer.req.bin") vectors."""

    def vector(case: str) -> bytes:
        return send(read(f"{case}{suffix}"))

    def call(operation: Any) -> Any:
        """An operation the vectors lack (making and using the RSA key), with the same authentication."""
        opcode = OPCODE_OF[type(operation)]
        reply = send(raw.request(1, opcode, encode_operation(operation), auth_type, auth))
        assert raw.status_of(reply) == 0, opcode
        return decode_result(opcode, body_of(reply))

    assert vector("ping") == golden("ping.resp.bin")
    assert send(read("ping.noauth.req.bin")) == golden("ping.resp.bin")
    for case in ("list_providers", "list_opcodes", "list_authenticators"):
        reply = vector(case)
        same_header_except_length(reply, golden(f"{case}.resp.bin"))
        decode_result(Opcode(raw.parse(reply)[0]["opcode"]), body_of(reply))  # a valid result body

    assert vector("psa_generate_key") == golden("psa_generate_key.resp.bin")
    assert vector("psa_generate_key") == golden("err_psa_already_exists.resp.bin")
    assert vector("list_keys") == golden("list_keys.resp.bin")  # the same key, attributes and all

    public = vector("psa_export_public_key")
    same_header_except_length(public, golden("psa_export_public_key.resp.bin"))
    point = decode_result(Opcode.PSA_EXPORT_PUBLIC_KEY, body_of(public)).data
    assert len(point) == 65 and point[0] == 4
    signed = vector("psa_sign_hash")
    same_header_except_length(signed, golden("psa_sign_hash.resp.bin"))
    signature = decode_result(Opcode.PSA_SIGN_HASH, body_of(signed)).signature
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    key.verify(
        encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:])),
        b"abc",
        ec.ECDSA(hashes.SHA256()),
    )  # the vector signs SHA-256("abc")
    assert vector("psa_verify_hash") == golden("err_psa_invalid_signature.resp.bin")  # its signature is made up
    assert vector("psa_destroy_key") == golden("psa_destroy_key.resp.bin")
    assert vector("psa_sign_hash") == golden("err_psa_does_not_exist.resp.bin")
    assert vector("psa_import_key") == golden("psa_import_key.resp.bin")

    random = vector("psa_generate_random")
    same_header_except_length(random, golden("psa_generate_random.resp.bin"))
    assert len(decode_result(Opcode.PSA_GENERATE_RANDOM, body_of(random)).random_bytes) == 32
    assert vector("psa_hash_compute") == golden("psa_hash_compute.resp.bin")
    assert body_of(golden("psa_hash_compute.resp.bin"))[2:] == hashlib.sha256(b"abc").digest()

    call(GenerateKey("tenant-a-rsa", RSA_ENCRYPTION))
    encrypted = vector("psa_asymmetric_encrypt")
    same_header_except_length(encrypted, golden("psa_asymmetric_encrypt.resp.bin"))
    ciphertext = decode_result(Opcode.PSA_ASYMMETRIC_ENCRYPT, body_of(encrypted)).ciphertext
    decrypted = call(AsymmetricDecrypt("tenant-a-rsa", t.RsaPkcs1v15Crypt(), ciphertext, None))
    assert decrypted.plaintext == b"hello parsec"
    assert raw.status_of(vector("psa_asymmetric_encrypt_oaep")) == 1133  # the key's policy permits PKCS#1 v1.5 only

    generate = f"psa_generate_key{suffix}"
    assert send(with_header(generate, 1, raw.NO_AUTH, b"")) == golden("err_not_authenticated.resp.bin")
    assert send(with_header(generate, 3, auth_type, auth)) == golden("err_provider_not_registered.resp.bin")
    assert send(with_header(generate, 0, auth_type, auth)) == golden("err_psa_not_supported.resp.bin")


@pytest.mark.threat("A1-E-1", "M-5")
def test_direct_vectors_get_parsecs_replies(service_factory: ServiceFactory) -> None:
    service = service_factory(ServiceOptions(auth_type="Direct"))
    path = str(service.socket_path)
    replay(lambda data: raw.exchange(path, data), ".req.bin", raw.DIRECT, TENANT.encode())
    # A known auth type that is not the configured one.
    assert raw.exchange(path, read("ping.peer.req.bin")) == golden("err_authenticator_not_registered.resp.bin")


@pytest.mark.threat("A1-E-1", "M-5")
def test_peer_vectors_get_parsecs_replies_as_uid_1000(service_factory: ServiceFactory) -> None:
    service = service_factory(ServiceOptions(auth_type="UnixPeerCredentials", admins=()))
    replay(
        lambda data: run_as(UID_1000, service.socket_path, [data])[0],
        ".peer.req.bin",
        raw.UNIX_PEER_CREDENTIALS,
        UID_1000.auth,
    )


@pytest.fixture(scope="module")
def direct_service(module_service_factory: ServiceFactory) -> ServiceHandle:
    return module_service_factory(ServiceOptions(auth_type="Direct"))


@pytest.mark.threat("A1-E-1", "A1-D-2", "M-5")
@pytest.mark.parametrize("entry", entries("malformed_request"), ids=lambda entry: entry["case"])
def test_malformed_vectors_get_the_golden_error_reply(direct_service: ServiceHandle, entry: dict[str, Any]) -> None:
    reply = raw.exchange(str(direct_service.socket_path), read(entry["file"]), shutdown_write=True)
    assert reply == golden(entry["expected_response_file"]), entry["summary"]
    assert direct_service.client().ping() == (1, 0)  # and the service keeps serving
