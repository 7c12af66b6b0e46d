"""An independent client's conformance sequence against `parsec-tm serve`: Direct, UnixPeerCredentials, JwtSvid,
and the three providers configured together.

The client is `parsec_raw_client` (standard library only, no code shared with `refimpl`); the expected statuses are
those of Parsec's own e2e suite (parsec-facts §7.1): the raw-header basic tests, the normal tests of the key life
cycle and signatures, each provider's ListOpcodes, the TPM's key attestation (key_attestation.rs: the verifier's
TPM2_MakeCredential in software, the credential back for the named key only, another tenant's key DoesNotExist),
and the multitenancy tests (two tenants with the same key name, an admin listing and deleting clients). With
UnixPeerCredentials the tenants are real Unix users created for the test, each request sent by a process running
as that user; the admin is root (uid 0). With JwtSvid the tenants are SPIFFE IDs whose
JWT-SVIDs the Workload API server issued over gRPC. The service is configured in Parsec's schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key
from tpm2_pytss.types import TPM2B_NAME
from tpm2_pytss.utils import NoSuchIndex, create_ek_template
from tpm2_pytss.utils import make_credential as tpm2_make_credential

from refimpl.identity_provider.server import WorkloadApiServer
from tests.e2e import parsec_raw_client as raw
from tests.e2e.conftest import provider_table_for
from tests.e2e.helpers import UnixUser, run_as
from tests.e2e.tenancy import Tenancy, spiffe_id, tenancy_options
from tests.fixtures.service import ServiceFactory, ServiceHandle, ServiceOptions
from tests.identity_provider.parts import fetch_token

pytestmark = pytest.mark.e2e

DIGEST = hashlib.sha256(b"conformance").digest()
TRUSTED_SERVICE = 4  # a provider ID that exists in the protocol but is never configured here
CORE_OPCODES = {raw.PING, raw.LIST_PROVIDERS, raw.LIST_OPCODES, raw.LIST_AUTHENTICATORS, raw.LIST_KEYS}
ATTEST_KEY, PREPARE_KEY_ATTESTATION = 0x1E, 0x1F
PROVIDER_OPCODES = {
    # GenerateKey … ExportPublicKey, Asymmetric{En,De}crypt, ExportKey, GenerateRandom, Hash*, Aead*, RawKeyAgreement
    raw.MBED_CRYPTO: {2, 3, 4, 5, 6, 7, 0xA, 0xB, 0xC, 0xD, 0xF, 0x10, 0x11, 0x12, 0x13, 0x20},
    raw.PKCS11: {2, 3, 4, 5, 6, 7, 0xA, 0xB, 0xD, 0x20},
    raw.TPM: {2, 3, 4, 5, 6, 7, 0xA, 0xB, 0xD, 0x20, ATTEST_KEY, PREPARE_KEY_ATTESTATION},
}
"""What ListOpcodes answers for each provider in Parsec 1.1.0 (parsec-facts §4.5): the TPM's 12 include attestation."""
DATA_CORRUPT = 1152


@dataclass(frozen=True)
class Identity:
    """A client of the sequence: its application name as the service sees it, and how it sends a request."""

    name: str
    auth_type: int
    auth: bytes
    send: Callable[[bytes], bytes]

    def ask(self, provider: int, opcode: int, body: bytes = b"", **header: Any) -> tuple[int, bytes]:
        header.setdefault("auth_type", self.auth_type)
        auth = header.pop("auth", self.auth)
        fields, reply_body = raw.parse(self.send(raw.request(provider, opcode, body, auth=auth, **header)))
        return fields["status"], reply_body


class Sequence:
    """Runs steps and records every status that differs from Parsec's, so one run reports them all."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def expect(self, step: str, got: tuple[int, bytes], status: int) -> bytes:
        if got[0] != status:
            self.failures.append(f"{step}: status {got[0]}, Parsec answers {status}")
        return got[1]

    def check(self, step: str, condition: bool) -> None:
        if not condition:
            self.failures.append(f"{step}: wrong result")


def verifies(point: bytes, signature: bytes) -> bool:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
    try:
        key.verify(der, DIGEST, ec.ECDSA(Prehashed(hashes.SHA256())))
    except Exception:
        return False
    return True


def field(body: bytes, number: int) -> Any:
    return next(value for key, value in raw.read_fields(body) if key == number)


def messages(body: bytes, number: int) -> list[bytes]:
    """Every length-delimited value of a repeated field."""
    return [value for key, value in raw.read_fields(body) if key == number and isinstance(value, bytes)]


def run_sequence(
    a: Identity, b: Identity, admin: Identity, auth_id: int, providers: tuple[int, ...] = (raw.MBED_CRYPTO,)
) -> list[str]:
    """Parsec's basic, normal and multitenancy statuses; the key steps run on each of `providers`."""
    s = Sequence()
    # ---- basic: raw-header tests (basic.rs, ping.rs), sent by tenant A
    s.check("ping", s.expect("ping", a.ask(raw.CORE, raw.PING, auth_type=raw.NO_AUTH, auth=b""), 0) == b"\x08\x01")
    s.expect("ping with authentication", a.ask(raw.CORE, raw.PING), 0)
    s.expect("mangled_ping", a.ask(raw.CORE, raw.PING, bytes.fromhex("1122334455")), 7)
    s.expect("invalid_provider", a.ask(0xFF, raw.PING), 6)
    s.expect("provider_not_registered", a.ask(TRUSTED_SERVICE, raw.GENERATE_RANDOM, raw.field_varint(1, 8)), 5)
    s.expect("invalid_content_type", a.ask(raw.CORE, raw.PING, content_type=0xFF), 2)
    s.expect("invalid_accept_type", a.ask(raw.CORE, raw.PING, accept_type=0xFF), 3)
    s.expect("invalid_body_len", a.ask(raw.CORE, raw.PING, body_len=0xFFFF), 15)
    s.expect("invalid_auth_len", a.ask(raw.CORE, raw.PING, auth_len=0xFFFF), 15)
    s.expect("invalid_opcode", a.ask(raw.CORE, 0xFFFF), 9)
    s.expect("invalid_authenticator", a.ask(raw.CORE, raw.PING, auth_type=0xFF), 12)
    s.expect("authenticator_not_registered", a.ask(raw.CORE, raw.PING, auth_type=raw.JWT), 13)
    s.expect("flags_ignored", a.ask(raw.CORE, raw.PING, flags=0xFFFF), 0)
    s.expect("status_ignored", a.ask(raw.CORE, raw.PING, status=0xFFFF), 0)
    s.expect("reserved_fields_not_zero1", a.ask(raw.CORE, raw.PING, reserved=(1, 0)), 17)
    s.expect("reserved_fields_not_zero2", a.ask(raw.CORE, raw.PING, reserved=(0, 1)), 17)

    # ---- normal: discovery (normal.rs)
    listed_providers = s.expect("list_providers", a.ask(raw.CORE, raw.LIST_PROVIDERS), 0)
    ids = [dict(raw.read_fields(info)).get(7, 0) for info in messages(listed_providers, 1)]
    s.check("list_providers: config order, Core last", ids == [*providers, raw.CORE])
    core = s.expect("list_opcodes(core)", a.ask(raw.CORE, raw.LIST_OPCODES, raw.list_opcodes(raw.CORE)), 0)
    s.check("list_opcodes(core) is Parsec's set", set(raw.packed_varints(field(core, 1))) == CORE_OPCODES)
    authenticators = s.expect("list_authenticators", a.ask(raw.CORE, raw.LIST_AUTHENTICATORS), 0)
    s.check("list_authenticators", dict(raw.read_fields(field(authenticators, 1))).get(5) == auth_id)

    # ---- normal and multitenancy on each provider: key life cycle, signatures, isolation
    # (create_destroy_key.rs, asym_sign_verify.rs, auth.rs two_auths_same_key_name and delete_wrong_key)
    points_b: dict[int, bytes] = {}
    for provider in providers:
        listed_opcodes = s.expect(
            f"list_opcodes({provider})", a.ask(raw.CORE, raw.LIST_OPCODES, raw.list_opcodes(provider)), 0
        )
        s.check(
            f"list_opcodes({provider}) is Parsec's set",
            set(raw.packed_varints(field(listed_opcodes, 1))) == PROVIDER_OPCODES[provider],
        )
        points_b[provider] = key_steps(s, a, b, provider, f"k{provider}")
        attestation_steps(s, a, b, provider, f"k{provider}")
    keys = s.expect("list_keys", a.ask(raw.CORE, raw.LIST_KEYS), 0)
    names = sorted(field(info, 2) for info in messages(keys, 1))
    s.check("list_keys shows A's keys on every provider", names == sorted(f"k{p}".encode() for p in providers))
    s.expect("invalid_provider_list_keys", a.ask(raw.MBED_CRYPTO, raw.LIST_KEYS), 1134)
    s.expect("invalid_provider_list_clients", a.ask(raw.MBED_CRYPTO, raw.LIST_CLIENTS), 1134)
    s.expect(
        "key operation without authentication",
        a.ask(providers[0], raw.GENERATE_KEY, raw.generate_key("x"), auth_type=raw.NO_AUTH, auth=b""),
        19,
    )
    s.expect("list_clients by a tenant", a.ask(raw.CORE, raw.LIST_CLIENTS), 21)

    # ---- admin (multitenancy.rs, normal.rs list_and_delete_clients)
    clients = s.expect("list_clients by the admin", admin.ask(raw.CORE, raw.LIST_CLIENTS), 0)
    listed = [value.decode() for value in messages(clients, 1)]
    s.check("list_clients names both tenants, sorted", listed == sorted({a.name, b.name}))
    s.expect("delete_client by the admin", admin.ask(raw.CORE, raw.DELETE_CLIENT, raw.delete_client(a.name)), 0)
    for provider in providers:
        name = f"k{provider}"
        s.expect(f"A's key is gone ({provider})", a.ask(provider, raw.SIGN_HASH, raw.sign_hash(name, DIGEST)), 1140)
        signature_b = field(
            s.expect(
                f"B's key is untouched ({provider})", b.ask(provider, raw.SIGN_HASH, raw.sign_hash(name, DIGEST)), 0
            ),
            1,
        )
        s.check(f"B's signature verifies with B's key ({provider})", verifies(points_b[provider], signature_b))
        s.expect(f"destroy_key ({provider})", b.ask(provider, raw.DESTROY_KEY, raw.key_name_only(name)), 0)
        s.expect(f"destroy_key twice ({provider})", b.ask(provider, raw.DESTROY_KEY, raw.key_name_only(name)), 1140)
    return s.failures


def key_steps(s: Sequence, a: Identity, b: Identity, provider: int, name: str) -> bytes:
    """A's key life cycle and signatures on one provider, then B's isolation from it; returns B's public key."""

    def step(what: str) -> str:
        return f"{what} ({provider})"

    s.expect(step("generate_key"), a.ask(provider, raw.GENERATE_KEY, raw.generate_key(name)), 0)
    s.expect(step("generate_key twice"), a.ask(provider, raw.GENERATE_KEY, raw.generate_key(name)), 1139)
    point_a = field(
        s.expect(step("export_public_key"), a.ask(provider, raw.EXPORT_PUBLIC_KEY, raw.key_name_only(name)), 0), 1
    )
    signature = field(s.expect(step("sign_hash"), a.ask(provider, raw.SIGN_HASH, raw.sign_hash(name, DIGEST)), 0), 1)
    s.check(step("sign_hash: the signature verifies"), verifies(point_a, signature))
    s.expect(step("verify_hash"), a.ask(provider, raw.VERIFY_HASH, raw.verify_hash(name, DIGEST, signature)), 0)
    forged = bytes([signature[0] ^ 0xFF]) + signature[1:]
    s.expect(step("verify_hash forged"), a.ask(provider, raw.VERIFY_HASH, raw.verify_hash(name, DIGEST, forged)), 1149)
    s.expect(step("B signs with A's key name"), b.ask(provider, raw.SIGN_HASH, raw.sign_hash(name, DIGEST)), 1140)
    s.expect(step("delete_wrong_key"), b.ask(provider, raw.DESTROY_KEY, raw.key_name_only(name)), 1140)
    s.expect(step("B generates the same key name"), b.ask(provider, raw.GENERATE_KEY, raw.generate_key(name)), 0)
    point_b = field(
        s.expect(step("B exports its key"), b.ask(provider, raw.EXPORT_PUBLIC_KEY, raw.key_name_only(name)), 0), 1
    )
    s.check(step("the two keys differ"), point_a != point_b)
    return bytes(point_b)


def prepare_key_attestation(name: str, attesting_key_name: str = "") -> bytes:
    """parameters { activate_credential { attested_key_name, attesting_key_name } }"""
    variant = raw.field_bytes(1, name.encode()) + (
        raw.field_bytes(2, attesting_key_name.encode()) if attesting_key_name else b""
    )
    return raw.field_bytes(1, raw.field_bytes(1, variant))


def attest_key(name: str, credential_blob: bytes, secret: bytes) -> bytes:
    """attested_key_name, parameters { activate_credential { credential_blob, secret } }"""
    variant = raw.field_bytes(1, credential_blob) + raw.field_bytes(2, secret)
    return raw.field_bytes(1, name.encode()) + raw.field_bytes(2, raw.field_bytes(1, variant))


def make_credential(prepared: bytes, credential: bytes) -> tuple[bytes, bytes]:
    """The verifier: TPM2_MakeCredential in software for the EK's public key and the attested key's name."""

    def no_template(index: int) -> bytes:
        raise NoSuchIndex(index)

    output = dict(raw.read_fields(field(field(prepared, 1), 1)))  # output { activate_credential { … } }
    ek = create_ek_template("EK-RSA2048", no_template)[1]  # the TCG default EK that Parsec's TPM provider uses
    ek_public = load_der_public_key(bytes(output[3]))
    assert isinstance(ek_public, rsa.RSAPublicKey)
    ek.publicArea.unique.rsa = ek_public.public_numbers().n.to_bytes(256, "big")
    blob, secret = tpm2_make_credential(ek, credential, TPM2B_NAME(bytes(output[1])))
    return bytes(blob.marshal()), bytes(secret.marshal())


def attestation_steps(s: Sequence, a: Identity, b: Identity, provider: int, name: str) -> None:
    """Key attestation (key_attestation.rs): TPM only, A's key, B kept out; NotSupported on the other providers."""

    def step(what: str) -> str:
        return f"{what} ({provider})"

    if provider != raw.TPM:
        s.expect(
            step("prepare_key_attestation elsewhere"),
            a.ask(provider, PREPARE_KEY_ATTESTATION, prepare_key_attestation(name)),
            1134,
        )
        s.expect(step("attest_key elsewhere"), a.ask(provider, ATTEST_KEY, attest_key(name, b"b", b"s")), 1134)
        return
    s.expect(step("attestation without parameters"), a.ask(provider, ATTEST_KEY, raw.field_bytes(1, b"x")), 16)
    s.expect(
        step("attestation with another attesting key"),
        a.ask(provider, PREPARE_KEY_ATTESTATION, prepare_key_attestation(name, "my-ek")),
        1134,
    )
    s.expect(step("att key"), a.ask(provider, raw.GENERATE_KEY, raw.generate_key(f"att-{name}")), 0)
    prepared = s.expect(
        step("prepare_key_attestation"), a.ask(provider, PREPARE_KEY_ATTESTATION, prepare_key_attestation(name)), 0
    )
    if not prepared:
        return
    blob, secret = make_credential(prepared, b"verifier nonce")
    attested = s.expect(step("attest_key"), a.ask(provider, ATTEST_KEY, attest_key(name, blob, secret)), 0)
    s.check(
        step("attest_key gives the credential back"),
        bool(attested) and field(field(field(attested, 1), 1), 1) == b"verifier nonce",
    )
    s.expect(
        step("attest_key with a credential for another key"),
        a.ask(provider, ATTEST_KEY, attest_key(f"att-{name}", blob, secret)),
        DATA_CORRUPT,
    )
    s.expect(step("B attests A's key"), b.ask(provider, ATTEST_KEY, attest_key(f"att-{name}", blob, secret)), 1140)
    s.expect(
        step("B prepares A's key"),
        b.ask(provider, PREPARE_KEY_ATTESTATION, prepare_key_attestation(f"att-{name}")),
        1140,
    )
    s.expect(step("att key destroyed"), a.ask(provider, raw.DESTROY_KEY, raw.key_name_only(f"att-{name}")), 0)


def options(auth_type: str, admin: str) -> ServiceOptions:
    return ServiceOptions(auth_type=auth_type, admins=(admin,), timeout_ms=300)


@pytest.mark.threat("A1-S-1", "A1-E-1", "M-5")
def test_conformance_with_direct_authentication(service_factory: ServiceFactory) -> None:
    service = service_factory(options("Direct", "admin"))
    path = str(service.socket_path)

    def direct(name: str) -> Identity:
        return Identity(name, raw.DIRECT, name.encode(), lambda data: raw.exchange(path, data))

    assert run_sequence(direct("tenant-a"), direct("tenant-b"), direct("admin"), raw.DIRECT) == []


@pytest.mark.threat("A1-S-1", "A1-E-1", "M-5")
def test_conformance_with_unix_peer_credentials(
    service_factory: ServiceFactory, unix_users: tuple[UnixUser, UnixUser]
) -> None:
    service = service_factory(options("UnixPeerCredentials", "0"))
    root = UnixUser("root", 0, 0)
    tenant_a, tenant_b, admin = (peer(service, user) for user in (*unix_users, root))
    assert run_sequence(tenant_a, tenant_b, admin, raw.UNIX_PEER_CREDENTIALS) == []


@pytest.mark.threat("A1-S-1", "A1-E-1", "M-5")
def test_conformance_with_jwt_svid(service_factory: ServiceFactory, workload_api: WorkloadApiServer) -> None:
    endpoint = workload_api.endpoint
    service = service_factory(replace(tenancy_options("jwt-svid", endpoint), timeout_ms=300))
    Tenancy("jwt-svid", service, endpoint).wait_until_trusted()
    path = str(service.socket_path)

    def jwt_svid(name: str) -> Identity:
        token = fetch_token(endpoint, spiffe_id(name)).encode()
        return Identity(spiffe_id(name), raw.JWT_SVID, token, lambda data: raw.exchange(path, data))

    assert run_sequence(jwt_svid("tenant-a"), jwt_svid("tenant-b"), jwt_svid("admin"), raw.JWT_SVID) == []


def peer(service: ServiceHandle, user: UnixUser) -> Identity:
    """An identity whose requests come from a process running as `user` (root sends from this process)."""
    path = str(service.socket_path)
    if user.uid == 0:
        return Identity("0", raw.UNIX_PEER_CREDENTIALS, user.auth, lambda data: raw.exchange(path, data))
    return Identity(
        str(user.uid), raw.UNIX_PEER_CREDENTIALS, user.auth, lambda data: run_as(user, service.socket_path, [data])[0]
    )


@pytest.mark.threat("A1-S-1", "A4-E-1", "M-5")
def test_conformance_on_the_three_providers_together(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, service_factory: ServiceFactory
) -> None:
    """One service configured in Parsec's schema with MbedCrypto, Pkcs11 on SoftHSM2 and Tpm on swtpm at once:
    key life cycle, signing and tenant isolation checked on each provider, DeleteClient across all of them."""
    tables = [provider_table_for(kind, request, tmp_path_factory) for kind in ("software", "pkcs11", "tpm")]
    service = service_factory(options("Direct", "admin").with_providers(*tables))
    path = str(service.socket_path)

    def direct(name: str) -> Identity:
        return Identity(name, raw.DIRECT, name.encode(), lambda data: raw.exchange(path, data))

    providers = (raw.MBED_CRYPTO, raw.PKCS11, raw.TPM)
    assert run_sequence(direct("tenant-a"), direct("tenant-b"), direct("admin"), raw.DIRECT, providers) == []
