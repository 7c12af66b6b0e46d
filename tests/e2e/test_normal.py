"""Per-operation normal tests over a real socket, once per provider kind and authenticator (Parsec's e2e groups).

Modelled on svc:e2e_tests/tests/per_provider/normal_tests/*.rs and all_providers/normal.rs (parsec-facts §7.1):
each operation family is exercised through `BasicClient`, and every cryptographic result is checked with an
independent implementation (`cryptography`). An operation the provider does not list in ListOpcodes must be
answered PsaErrorNotSupported — that is asserted instead of the operation's normal behaviour. Every test runs with
Direct tenants and with JwtSvid tenants (distinct SPIFFE IDs, tokens from the project's Workload API server over
gRPC), on every provider kind: one service per (provider, authenticator), shared by the module's tests.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from refimpl.client import BasicClient, ClientError
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.operations import OPCODE_OF, CheckType, ListClients, ListKeys
from refimpl.providers.base import PROVIDER_MODULES, Capability, provider_class
from refimpl.psa import types as t
from tests.e2e.conftest import PROVIDER_KINDS, provider_table_for
from tests.e2e.tenancy import AUTH_KINDS, AuthKind, Tenancy, tenancy_options
from tests.fixtures.service import running_services

pytestmark = pytest.mark.e2e

ECDSA = t.Ecdsa(t.Hash.SHA_256)
P256 = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1),
    256,
    t.KeyPolicy(t.UsageFlags(sign_hash=True, verify_hash=True, sign_message=True, verify_message=True), ECDSA),
)
DIGEST = hashlib.sha256(b"the message").digest()
_names = itertools.count()


def fresh(prefix: str) -> str:
    """A key name no other test of the shared service uses."""
    return f"{prefix}-{next(_names)}"


@pytest.fixture(
    scope="module",
    params=[(kind, auth) for kind in PROVIDER_KINDS for auth in AUTH_KINDS],
    ids=lambda param: "-".join(param),
)
def tenancy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenancy]:
    """One service per (provider kind, authenticator), stopped before the next starts (a device serves one)."""
    kind, auth = request.param
    table = provider_table_for(kind, request, tmp_path_factory)
    endpoint = request.getfixturevalue("workload_api").endpoint if auth == "jwt-svid" else None
    with running_services(tmp_path_factory.mktemp(f"normal-{kind}-{auth}")) as start:
        service = start(tenancy_options(auth, endpoint).with_providers(table))
        tenants = Tenancy(auth, service, endpoint)
        tenants.wait_until_trusted()
        yield tenants
        tenants.close()


@pytest.fixture
def client(tenancy: Tenancy) -> BasicClient:
    return tenancy.client("normal-tests")


EXPECTED_AUTHENTICATOR: dict[AuthKind, AuthType] = {"direct": AuthType.DIRECT, "jwt-svid": AuthType.JWT_SVID}


def status_of(call: Callable[[], Any]) -> Status:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.status


def supported(client: BasicClient, opcode: Opcode, call: Callable[[], Any]) -> bool:
    """Whether the provider lists `opcode`; if not, `call` must fail with PsaErrorNotSupported."""
    if opcode in client.list_opcodes(client.implicit_provider):
        return True
    assert status_of(call) is Status.PSA_ERROR_NOT_SUPPORTED
    return False


def capable(client: BasicClient, check: CheckType, attributes: t.KeyAttributes, call: Callable[[], Any]) -> bool:
    """Whether CanDoCrypto accepts the template; if not, `call` must be refused as PsaErrorNotSupported."""
    try:
        client.can_do_crypto(check, attributes)
        return True
    except ClientError as error:
        assert error.status in {Status.PSA_ERROR_NOT_SUPPORTED, Status.PSA_ERROR_NOT_PERMITTED}
    assert status_of(call) is Status.PSA_ERROR_NOT_SUPPORTED
    return False


def local_p256(point: bytes) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def verify_locally(point: bytes, signature: bytes, digest: bytes = DIGEST) -> None:
    der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
    local_p256(point).verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


# ------------------------------------------------------------------------------------------- discovery


def test_discovery(client: BasicClient, tenancy: Tenancy) -> None:
    providers = client.list_providers()
    assert providers[-1].id == ProviderId.CORE and len(providers) == 2
    assert client.ping() == (1, 0)
    assert client.list_opcodes(ProviderId.CORE) == {
        Opcode.PING,
        Opcode.LIST_PROVIDERS,
        Opcode.LIST_OPCODES,
        Opcode.LIST_AUTHENTICATORS,
        Opcode.LIST_KEYS,
    }
    assert Opcode.PSA_GENERATE_KEY in client.list_opcodes(providers[0].id)
    assert [info.id for info in client.list_authenticators()] == [EXPECTED_AUTHENTICATOR[tenancy.kind]]


def test_core_operations_sent_to_a_crypto_provider_are_not_supported(client: BasicClient) -> None:
    """invalid_provider_list_keys / invalid_provider_list_clients → PsaErrorNotSupported (1134)."""
    for operation in (ListKeys(), ListClients()):
        response = client.send(client.implicit_provider, OPCODE_OF[type(operation)], operation)
        assert response.status is Status.PSA_ERROR_NOT_SUPPORTED


# ---------------------------------------------------------------------------------- key life cycle


def test_create_and_destroy(client: BasicClient) -> None:
    name = fresh("life")
    client.psa_generate_key(name, P256)
    assert status_of(lambda: client.psa_generate_key(name, P256)) is Status.PSA_ERROR_ALREADY_EXISTS
    assert name in [key.name for key in client.list_keys()]
    client.psa_destroy_key(name)
    assert status_of(lambda: client.psa_destroy_key(name)) is Status.PSA_ERROR_DOES_NOT_EXIST
    assert name not in [key.name for key in client.list_keys()]
    client.psa_generate_key(name, P256)  # the name is free again
    client.psa_destroy_key(name)


def test_key_attributes_are_listed_as_created(client: BasicClient) -> None:
    name = fresh("attrs")
    client.psa_generate_key(name, P256)
    [listed] = [key for key in client.list_keys() if key.name == name]
    assert listed.attributes == P256 and listed.provider_id == client.implicit_provider
    client.psa_destroy_key(name)


# ----------------------------------------------------------------------------------------- signatures


def test_sign_and_verify_hash(client: BasicClient) -> None:
    name = fresh("sign")
    client.psa_generate_key(name, P256)
    signature = client.psa_sign_hash(name, DIGEST, ECDSA)
    assert len(signature) == 64
    client.psa_verify_hash(name, DIGEST, ECDSA, signature)
    verify_locally(client.psa_export_public_key(name), signature)
    forged = bytes([signature[0] ^ 1]) + signature[1:]
    assert status_of(lambda: client.psa_verify_hash(name, DIGEST, ECDSA, forged)) is (
        Status.PSA_ERROR_INVALID_SIGNATURE
    )
    assert status_of(lambda: client.psa_sign_hash(name, DIGEST[:20], ECDSA)) is Status.PSA_ERROR_INVALID_ARGUMENT
    client.psa_destroy_key(name)


def test_policy_is_enforced(client: BasicClient) -> None:
    name = fresh("verify-only")
    verify_only = t.KeyAttributes(P256.key_type, 256, t.KeyPolicy(t.UsageFlags(verify_hash=True), ECDSA))
    client.psa_generate_key(name, verify_only)
    assert status_of(lambda: client.psa_sign_hash(name, DIGEST, ECDSA)) is Status.PSA_ERROR_NOT_PERMITTED
    assert status_of(lambda: client.psa_export_key(name)) in {
        Status.PSA_ERROR_NOT_PERMITTED,
        Status.PSA_ERROR_NOT_SUPPORTED,
    }
    client.psa_destroy_key(name)


def test_sign_and_verify_message(client: BasicClient) -> None:
    name = fresh("message")
    client.psa_generate_key(name, P256)
    if supported(client, Opcode.PSA_SIGN_MESSAGE, lambda: client.psa_sign_message(name, b"text", ECDSA)):
        signature = client.psa_sign_message(name, b"text", ECDSA)
        client.psa_verify_message(name, b"text", ECDSA, signature)
        verify_locally(client.psa_export_public_key(name), signature, hashlib.sha256(b"text").digest())
    client.psa_destroy_key(name)


# ------------------------------------------------------------------------------------------- import/export


def test_import_a_private_key_and_use_it(client: BasicClient) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    data = private.private_numbers().private_value.to_bytes(32, "big")
    name = fresh("imported")
    attributes = t.KeyAttributes(P256.key_type, 256, t.KeyPolicy(t.UsageFlags(sign_hash=True), ECDSA))
    if not capable(client, CheckType.IMPORT, attributes, lambda: client.psa_import_key(name, data, attributes)):
        return
    client.psa_import_key(name, data, attributes)
    point = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert client.psa_export_public_key(name) == point
    verify_locally(point, client.psa_sign_hash(name, DIGEST, ECDSA))
    client.psa_destroy_key(name)


def test_import_a_public_key_and_verify_with_it(client: BasicClient) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    name = fresh("public")
    attributes = t.KeyAttributes(
        t.EccPublicKey(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(verify_hash=True), ECDSA)
    )
    client.psa_import_key(name, point, attributes)
    r, s = decode_dss_signature(private.sign(DIGEST, ec.ECDSA(Prehashed(hashes.SHA256()))))
    client.psa_verify_hash(name, DIGEST, ECDSA, r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    client.psa_destroy_key(name)


def test_export_an_exportable_key(client: BasicClient) -> None:
    name = fresh("exportable")
    attributes = t.KeyAttributes(P256.key_type, 256, t.KeyPolicy(t.UsageFlags(export=True, sign_hash=True), ECDSA))
    data = bytes(range(1, 33))
    if supported(client, Opcode.PSA_EXPORT_KEY, lambda: client.psa_export_key("whatever")):
        client.psa_import_key(name, data, attributes)
        assert client.psa_export_key(name) == data
        client.psa_destroy_key(name)


# ------------------------------------------------------------------------------------------- encryption


def test_asymmetric_encryption_round_trip(client: BasicClient) -> None:
    name = fresh("rsa")
    # A device with OAEP-SHA-1 only (SoftHSM2; a deprecated hash) declares it, and gets PKCS#1 v1.5 here.
    provider_type = next(
        cls for cls in map(provider_class, PROVIDER_MODULES) if cls.IDENTITY.provider_id == client.implicit_provider
    )
    oaep: t.AsymmetricEncryption = (
        t.RsaOaep(t.Hash.SHA_256) if Capability.OAEP_ANY_HASH in provider_type.CAPABILITIES else t.RsaPkcs1v15Crypt()
    )
    attributes = t.KeyAttributes(t.RsaKeyPair(), 2048, t.KeyPolicy(t.UsageFlags(encrypt=True, decrypt=True), oaep))
    client.psa_generate_key(name, attributes)
    ciphertext = client.psa_asymmetric_encrypt(name, oaep, b"secret")
    assert client.psa_asymmetric_decrypt(name, oaep, ciphertext) == b"secret"
    public = serialization.load_der_public_key(client.psa_export_public_key(name))
    assert isinstance(public, rsa.RSAPublicKey)
    scheme = (
        padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
        if isinstance(oaep, t.RsaOaep)
        else padding.PKCS1v15()
    )
    local = public.encrypt(b"from outside", scheme)
    assert client.psa_asymmetric_decrypt(name, oaep, local) == b"from outside"
    client.psa_destroy_key(name)


def test_aead_round_trip(client: BasicClient) -> None:
    gcm = t.AeadDefaultTag(t.AeadWithDefaultLengthTag.GCM)
    name = fresh("aes")
    key = bytes(range(32))
    attributes = t.KeyAttributes(t.Aes(), 256, t.KeyPolicy(t.UsageFlags(encrypt=True, decrypt=True), gcm))
    nonce = bytes(12)
    if supported(client, Opcode.PSA_AEAD_ENCRYPT, lambda: client.psa_aead_encrypt(name, gcm, nonce, b"", b"x")):
        client.psa_import_key(name, key, attributes)
        ciphertext = client.psa_aead_encrypt(name, gcm, nonce, b"header", b"payload")
        assert ciphertext == AESGCM(key).encrypt(nonce, b"payload", b"header")
        assert client.psa_aead_decrypt(name, gcm, nonce, b"header", ciphertext) == b"payload"
        tampered = ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])
        assert status_of(lambda: client.psa_aead_decrypt(name, gcm, nonce, b"header", tampered)) is (
            Status.PSA_ERROR_INVALID_SIGNATURE
        )
        client.psa_destroy_key(name)


# ------------------------------------------------------------------------------- hash, random, agreement


def test_hash(client: BasicClient) -> None:
    if supported(client, Opcode.PSA_HASH_COMPUTE, lambda: client.psa_hash_compute(t.Hash.SHA_256, b"abc")):
        assert client.psa_hash_compute(t.Hash.SHA_256, b"abc") == hashlib.sha256(b"abc").digest()
        client.psa_hash_compare(t.Hash.SHA_256, b"abc", hashlib.sha256(b"abc").digest())
        assert status_of(lambda: client.psa_hash_compare(t.Hash.SHA_256, b"abd", hashlib.sha256(b"abc").digest())) is (
            Status.PSA_ERROR_INVALID_SIGNATURE
        )


def test_generate_random(client: BasicClient) -> None:
    first, second = client.psa_generate_random(32), client.psa_generate_random(32)
    assert len(first) == len(second) == 32 and first != second


def test_raw_key_agreement(client: BasicClient) -> None:
    name = fresh("ecdh")
    attributes = t.KeyAttributes(P256.key_type, 256, t.KeyPolicy(t.UsageFlags(derive=True), t.RawKeyAgreement.ECDH))
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_point = peer.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    call = lambda: client.psa_raw_key_agreement(t.RawKeyAgreement.ECDH, name, peer_point)  # noqa: E731
    if supported(client, Opcode.PSA_RAW_KEY_AGREEMENT, call):
        client.psa_generate_key(name, attributes)
        secret = call()
        assert secret == peer.exchange(ec.ECDH(), local_p256(client.psa_export_public_key(name)))
        client.psa_destroy_key(name)


def test_can_do_crypto(client: BasicClient) -> None:
    call = lambda: client.can_do_crypto(CheckType.GENERATE, P256)  # noqa: E731
    if supported(client, Opcode.CAN_DO_CRYPTO, call):
        call()  # Success: P-256 ECDSA keys can be generated


# ------------------------------------------------------------------------------------------ tenants


@pytest.mark.threat("A1-S-1")
def test_two_tenants_same_key_name(tenancy: Tenancy) -> None:
    """auth.rs::two_auths_same_key_name and delete_wrong_key."""
    alice, bob = tenancy.client("alice"), tenancy.client("bob")
    name = fresh("shared-name")
    alice.psa_generate_key(name, P256)
    assert status_of(lambda: bob.psa_sign_hash(name, DIGEST, ECDSA)) is Status.PSA_ERROR_DOES_NOT_EXIST
    assert status_of(lambda: bob.psa_destroy_key(name)) is Status.PSA_ERROR_DOES_NOT_EXIST
    bob.psa_generate_key(name, P256)
    assert alice.psa_export_public_key(name) != bob.psa_export_public_key(name)
    verify_locally(bob.psa_export_public_key(name), bob.psa_sign_hash(name, DIGEST, ECDSA))
    alice.psa_destroy_key(name)
    bob.psa_sign_hash(name, DIGEST, ECDSA)  # unaffected
    bob.psa_destroy_key(name)


def test_list_and_delete_clients(tenancy: Tenancy) -> None:
    victim_name = tenancy.identity("victim")
    admin, victim = tenancy.client("admin"), tenancy.client("victim")
    name = fresh("victim-key")
    victim.psa_generate_key(name, P256)
    assert victim_name in admin.list_clients()
    assert status_of(victim.list_clients) is Status.ADMIN_OPERATION
    admin.delete_client(victim_name)
    assert victim_name not in admin.list_clients()
    assert status_of(lambda: victim.psa_sign_hash(name, DIGEST, ECDSA)) is Status.PSA_ERROR_DOES_NOT_EXIST
