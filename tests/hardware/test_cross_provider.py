"""Keys cross between providers as clients exchange them (Parsec's e2e `all_providers/cross.rs`).

Every pair of the software provider, SoftHSM2 and swtpm: a signature made by one verifies with `cryptography` and
in the other after the signer's exported public key is imported there; data encrypted to an exported public key —
by `cryptography` or by another provider holding it — decrypts in the provider that owns the key. Formats are
PSA's (r‖s signatures, uncompressed points, PKCS#1 RSAPublicKey), so this also pins the providers to them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from itertools import permutations
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager
from refimpl.operations import (
    AsymmetricDecrypt,
    AsymmetricEncrypt,
    ExportPublicKey,
    GenerateKey,
    ImportKey,
    SignHash,
    VerifyHash,
)
from refimpl.providers.base import Capability, KeyStoreProvider, ProviderSettings, provider_class
from refimpl.psa import formats
from refimpl.psa.types import (
    AsymmetricEncryption,
    AsymmetricSignature,
    Ecdsa,
    Hash,
    KeyType,
    RsaKeyPair,
    RsaOaep,
    RsaPkcs1v15Crypt,
    RsaPkcs1v15Sign,
    RsaPss,
    RsaPublicKey,
)
from tests.fixtures.real_parts import ProviderFactory
from tests.providers.helpers import P256, P256_PUBLIC, TENANT_A, run, template

PROVIDER_TYPES = {"software": "MbedCrypto", "pkcs11": "Pkcs11", "tpm": "Tpm"}
KINDS = tuple(PROVIDER_TYPES)
DIGEST = hashlib.sha256(b"crossing providers").digest()
SIGNATURES: dict[str, tuple[KeyType, int, AsymmetricSignature]] = {
    "ecdsa-p256": (P256, 256, Ecdsa(Hash.SHA_256)),
    "rsa-pkcs1v15": (RsaKeyPair(), 2048, RsaPkcs1v15Sign(Hash.SHA_256)),
    "rsa-pss": (RsaKeyPair(), 2048, RsaPss(Hash.SHA_256)),
}


@pytest.fixture
def providers(
    tmp_path: Path, pkcs11_provider_factory: ProviderFactory, tpm_provider_factory: ProviderFactory
) -> Iterator[dict[str, KeyStoreProvider]]:
    """One provider of each kind, each with its own key info manager."""
    managers = {kind: SQLiteKeyInfoManager(kind, tmp_path / f"{kind}.sqlite3") for kind in KINDS}
    software = provider_class("MbedCrypto").from_config(
        "mbed-crypto-provider",
        {"key_store_path": str(tmp_path / "software-keys")},
        managers["software"],
        ProviderSettings(working_directory=tmp_path),
    )
    built = {
        "software": software,
        "pkcs11": pkcs11_provider_factory(managers["pkcs11"]),
        "tpm": tpm_provider_factory(managers["tpm"]),
    }
    assert all(isinstance(provider, KeyStoreProvider) for provider in built.values())
    yield built  # type: ignore[misc]
    software.close()
    for manager in managers.values():
        manager.close()


def _verify_with_cryptography(public_data: bytes, algorithm: AsymmetricSignature, signature: bytes) -> None:
    prehashed = Prehashed(hashes.SHA256())
    if isinstance(algorithm, Ecdsa):
        key = formats.load_public_key(P256_PUBLIC, 256, public_data)
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(formats.ecdsa_signature_to_der(signature, 256), DIGEST, ec.ECDSA(prehashed))
        return
    key = formats.load_public_key(RsaPublicKey(), 0, public_data)
    assert isinstance(key, rsa.RSAPublicKey)
    scheme: padding.AsymmetricPadding = padding.PKCS1v15()
    if isinstance(algorithm, RsaPss):
        scheme = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    key.verify(signature, DIGEST, scheme, prehashed)


@pytest.mark.parametrize("scheme", sorted(SIGNATURES))
@pytest.mark.parametrize(("signer", "verifier"), list(permutations(KINDS, 2)))
def test_a_signature_verifies_everywhere(
    providers: dict[str, KeyStoreProvider], signer: str, verifier: str, scheme: str
) -> None:
    key_type, bits, algorithm = SIGNATURES[scheme]
    signing = providers[signer]
    run(signing, TENANT_A, GenerateKey("signer", template(key_type, bits, algorithm, sign_hash=True)))
    signature = run(signing, TENANT_A, SignHash("signer", algorithm, DIGEST)).signature
    public = run(signing, TENANT_A, ExportPublicKey("signer")).data
    _verify_with_cryptography(public, algorithm, signature)

    public_type = P256_PUBLIC if key_type == P256 else RsaPublicKey()
    verifying = providers[verifier]
    run(verifying, TENANT_A, ImportKey("peer", template(public_type, 0, algorithm, verify_hash=True), public))
    run(verifying, TENANT_A, VerifyHash("peer", algorithm, DIGEST, signature))
    assert run(verifying, TENANT_A, ExportPublicKey("peer")).data == public


ENCRYPTIONS: dict[str, tuple[AsymmetricEncryption, tuple[str, ...]]] = {
    "pkcs1v15": (RsaPkcs1v15Crypt(), KINDS),
    "oaep-sha256": (
        RsaOaep(Hash.SHA_256),
        tuple(kind for kind in KINDS if Capability.OAEP_ANY_HASH in provider_class(PROVIDER_TYPES[kind]).CAPABILITIES),
    ),
}
"""Each scheme and the kinds that run it: OAEP with SHA-256 where the provider type declares it (not SoftHSM2)."""


def _client_padding(algorithm: AsymmetricEncryption) -> padding.AsymmetricPadding:
    if isinstance(algorithm, RsaOaep):
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return padding.PKCS1v15()


@pytest.mark.parametrize(
    ("owner", "scheme"), [(owner, scheme) for scheme, (_, kinds) in sorted(ENCRYPTIONS.items()) for owner in kinds]
)
def test_data_encrypted_to_an_exported_key_decrypts_in_its_provider(
    providers: dict[str, KeyStoreProvider], owner: str, scheme: str
) -> None:
    algorithm, kinds = ENCRYPTIONS[scheme]
    holder = providers[owner]
    attributes = template(RsaKeyPair(), 2048, algorithm, encrypt=True, decrypt=True)
    run(holder, TENANT_A, GenerateKey("owner", attributes))
    public_data = run(holder, TENANT_A, ExportPublicKey("owner")).data
    public = formats.load_public_key(RsaPublicKey(), 0, public_data)
    assert isinstance(public, rsa.RSAPublicKey)

    from_a_client = public.encrypt(b"for the key owner", _client_padding(algorithm))
    assert run(holder, TENANT_A, AsymmetricDecrypt("owner", algorithm, from_a_client, None)).plaintext == (
        b"for the key owner"
    )
    for other in kinds:
        if other == owner:
            continue
        sender = providers[other]
        public_template = template(RsaPublicKey(), 0, algorithm, encrypt=True)
        run(sender, TENANT_A, ImportKey(f"to-{owner}", public_template, public_data))
        sent = run(sender, TENANT_A, AsymmetricEncrypt(f"to-{owner}", algorithm, b"from " + other.encode(), None))
        received = run(holder, TENANT_A, AsymmetricDecrypt("owner", algorithm, sent.ciphertext, None)).plaintext
        assert received == b"from " + other.encode()
