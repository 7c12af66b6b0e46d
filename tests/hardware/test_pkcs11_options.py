"""PKCS#11 provider switches and the token's own view of the keys: allow_export, software_public_operations, U-4.

Checked on the token itself where it matters: a key the policy does not let out is CKA_SENSITIVE and not
CKA_EXTRACTABLE; `software_public_operations = true` makes VerifyHash and AsymmetricEncrypt run without any token
command (the M-4 events show which commands reached the token); the OAEP the provider type declares it can run
(`CAPABILITIES`: SHA-1, no label) is what SoftHSM2 runs. And the seed's U-4, unmitigated for PKCS#11: the login
belongs to the token, so anything in the process that knows a key's CKA_ID can use it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pkcs11 import Attribute, ObjectClass

from refimpl.errors import ParsecError
from refimpl.identity import KeyIdentity
from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager
from refimpl.logs import Event
from refimpl.operations import (
    AsymmetricDecrypt,
    AsymmetricEncrypt,
    ExportPublicKey,
    GenerateKey,
    ImportKey,
    SignHash,
    VerifyHash,
)
from refimpl.providers.base import ProviderSettings
from refimpl.providers.pkcs11 import Pkcs11Provider
from refimpl.providers.pkcs11.mechanisms import encryption_mechanism
from refimpl.psa import formats
from refimpl.psa.types import Ecdsa, Hash, RsaKeyPair, RsaOaep, RsaPkcs1v15Crypt, RsaPublicKey
from tests.fixtures.real_parts import ProviderFactory, SoftHsmToken
from tests.hardware.conftest import KeyInfoManagerOpener
from tests.providers.helpers import P256, P256_PUBLIC, TENANT_A, run, status_of, template

ECDSA = Ecdsa(Hash.SHA_256)
DIGEST = hashlib.sha256(b"pkcs11 options").digest()


def _private_object_attributes(provider: Pkcs11Provider, key_id: bytes) -> tuple[bool, bool]:
    with provider.token.session() as pooled:
        key = pooled.session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
        return bool(key[Attribute.SENSITIVE]), bool(key[Attribute.EXTRACTABLE])


def _key_id(kim: KeyInfoManager, provider: Pkcs11Provider, name: str) -> bytes:
    mapping = kim.get(provider.key_identity(TENANT_A, name))
    assert mapping is not None
    return mapping.key_id


def test_allow_export_false_refuses_exportable_keys(
    pkcs11_provider_factory: ProviderFactory, kim: KeyInfoManager
) -> None:
    provider = pkcs11_provider_factory(kim, allow_export=False)
    exportable = template(P256, 256, ECDSA, sign_hash=True, export=True)
    assert status_of(provider, TENANT_A, GenerateKey("exportable", exportable)) is Status.PSA_ERROR_NOT_PERMITTED
    public = formats.export_public_key(formats.generate_private_key(P256, 256))
    exportable_public = template(P256_PUBLIC, 256, ECDSA, verify_hash=True, export=True)
    assert status_of(provider, TENANT_A, ImportKey("pub", exportable_public, public)) is Status.PSA_ERROR_NOT_PERMITTED
    assert isinstance(provider, Pkcs11Provider)
    assert kim.get(provider.key_identity(TENANT_A, "exportable")) is None

    run(provider, TENANT_A, GenerateKey("kept", template(P256, 256, ECDSA, sign_hash=True)))
    assert _private_object_attributes(provider, _key_id(kim, provider, "kept")) == (True, False)


def test_the_export_flag_becomes_an_extractable_key(
    pkcs11_provider_factory: ProviderFactory, kim: KeyInfoManager
) -> None:
    provider = pkcs11_provider_factory(kim)
    assert isinstance(provider, Pkcs11Provider)
    run(provider, TENANT_A, GenerateKey("exportable", template(P256, 256, ECDSA, sign_hash=True, export=True)))
    assert _private_object_attributes(provider, _key_id(kim, provider, "exportable")) == (False, True)


def _token_commands(caplog: pytest.LogCaptureFixture) -> list[str]:
    issued = Event.HARDWARE_COMMAND_ISSUED.value
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(issued)]


@pytest.mark.parametrize("software", [True, False], ids=["software", "token"])
def test_software_public_operations_keep_public_work_off_the_token(
    pkcs11_provider_factory: ProviderFactory,
    kim: KeyInfoManager,
    caplog: pytest.LogCaptureFixture,
    software: bool,
) -> None:
    provider = pkcs11_provider_factory(kim, software_public_operations=software)
    run(provider, TENANT_A, GenerateKey("ec", template(P256, 256, ECDSA, sign_hash=True, verify_hash=True)))
    pkcs1 = RsaPkcs1v15Crypt()
    run(provider, TENANT_A, GenerateKey("rsa", template(RsaKeyPair(), 2048, pkcs1, encrypt=True, decrypt=True)))
    signature = run(provider, TENANT_A, SignHash("ec", ECDSA, DIGEST)).signature
    for name in ("ec", "rsa"):
        run(provider, TENANT_A, ExportPublicKey(name))  # the public keys are read (and cached) before counting

    caplog.clear()
    caplog.set_level(logging.INFO, logger="refimpl.providers.pkcs11")
    run(provider, TENANT_A, VerifyHash("ec", ECDSA, DIGEST, signature))
    bad = signature[:-1] + bytes([signature[-1] ^ 1])
    assert status_of(provider, TENANT_A, VerifyHash("ec", ECDSA, DIGEST, bad)) is Status.PSA_ERROR_INVALID_SIGNATURE
    ciphertext = run(provider, TENANT_A, AsymmetricEncrypt("rsa", pkcs1, b"to the token", None)).ciphertext
    commands = _token_commands(caplog)
    if software:
        assert commands == []
    else:
        assert len([command for command in commands if "C_Verify" in command]) == 2
        assert len([command for command in commands if "C_Encrypt" in command]) == 1
    assert run(provider, TENANT_A, AsymmetricDecrypt("rsa", pkcs1, ciphertext, None)).plaintext == b"to the token"


def test_software_encryption_matches_what_a_client_does(
    pkcs11_provider_factory: ProviderFactory, kim: KeyInfoManager
) -> None:
    provider = pkcs11_provider_factory(kim, software_public_operations=True)
    pkcs1 = RsaPkcs1v15Crypt()
    run(provider, TENANT_A, GenerateKey("rsa", template(RsaKeyPair(), 2048, pkcs1, encrypt=True, decrypt=True)))
    public = formats.load_public_key(RsaPublicKey(), 0, run(provider, TENANT_A, ExportPublicKey("rsa")).data)
    assert isinstance(public, rsa.RSAPublicKey)
    outside = public.encrypt(b"from a client", padding.PKCS1v15())
    assert run(provider, TENANT_A, AsymmetricDecrypt("rsa", pkcs1, outside, None)).plaintext == b"from a client"


def test_oaep_runs_on_the_token_with_sha1_and_no_label_only(softhsm_token: SoftHsmToken, kim: KeyInfoManager) -> None:
    """SHA-1 OAEP round-trips (a deprecated hash: the service must allow deprecated primitives); a label answers
    NotSupported; and the token itself refuses SHA-256, which is why the provider type declares no OAEP_ANY_HASH.
    Should a SoftHSM2 update accept it, this test fails: then lift the declaration."""
    settings = ProviderSettings(allow_deprecated=True)
    provider = Pkcs11Provider.from_config("oaep-provider", softhsm_token.options(), kim, settings)
    try:
        sha1 = RsaOaep(Hash.SHA_1)
        run(provider, TENANT_A, GenerateKey("sha1", template(RsaKeyPair(), 2048, sha1, encrypt=True, decrypt=True)))
        public = formats.load_public_key(RsaPublicKey(), 0, run(provider, TENANT_A, ExportPublicKey("sha1")).data)
        assert isinstance(public, rsa.RSAPublicKey)
        scheme = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        outside = public.encrypt(b"oaep", scheme)
        assert run(provider, TENANT_A, AsymmetricDecrypt("sha1", sha1, outside, None)).plaintext == b"oaep"
        inside = run(provider, TENANT_A, AsymmetricEncrypt("sha1", sha1, b"oaep", None)).ciphertext
        assert run(provider, TENANT_A, AsymmetricDecrypt("sha1", sha1, inside, None)).plaintext == b"oaep"
        labelled = AsymmetricDecrypt("sha1", sha1, outside, b"label")
        assert status_of(provider, TENANT_A, labelled) is Status.PSA_ERROR_NOT_SUPPORTED

        sha256 = RsaOaep(Hash.SHA_256)
        run(provider, TENANT_A, GenerateKey("sha256", template(RsaKeyPair(), 2048, sha256, encrypt=True)))
        mechanism = encryption_mechanism(sha256, None)
        with provider.token.session() as pooled:
            key = pooled.find_key(_key_id(kim, provider, "sha256"), ObjectClass.PUBLIC_KEY)
            with pytest.raises(pkcs11.ArgumentsBad):  # SoftHSMv2#474: CKR_ARGUMENTS_BAD for any hash but SHA-1
                key.encrypt(b"oaep", mechanism=mechanism.mechanism, mechanism_param=mechanism.parameter)
    finally:
        provider.close()


@pytest.mark.threat("A4-E-1", "U-4")
def test_the_login_is_the_tokens_so_a_known_key_id_is_enough(
    pkcs11_provider_factory: ProviderFactory, open_kim: KeyInfoManagerOpener, tmp_path: Path
) -> None:
    """U-4: a second provider of the process, configured without any PIN, signs with the first one's key."""
    owner_kim = open_kim()
    owner = pkcs11_provider_factory(owner_kim, "owner-provider")
    assert isinstance(owner, Pkcs11Provider)
    run(owner, TENANT_A, GenerateKey("k", template(P256, 256, ECDSA, sign_hash=True, verify_hash=True)))
    mapping = owner_kim.get(owner.key_identity(TENANT_A, "k"))
    assert mapping is not None

    intruder_kim = SQLiteKeyInfoManager("intruder", tmp_path / "intruder.sqlite3")
    try:
        intruder = pkcs11_provider_factory(intruder_kim, "intruder-provider", user_pin=None)
        intruder_kim.insert(KeyIdentity(TENANT_A.identity, "stolen", intruder.name), mapping)
        signature = run(intruder, TENANT_A, SignHash("stolen", ECDSA, DIGEST)).signature
        run(owner, TENANT_A, VerifyHash("k", ECDSA, DIGEST, signature))
    finally:
        intruder_kim.close()


@pytest.mark.threat("A7-S-1", "O-3")
def test_a_key_destroyed_behind_the_providers_back_does_not_exist(
    pkcs11_provider_factory: ProviderFactory, kim: KeyInfoManager
) -> None:
    """Another process sharing the token destroys the key: the cached object handle goes stale, cleanly."""
    provider = pkcs11_provider_factory(kim)
    assert isinstance(provider, Pkcs11Provider)
    run(provider, TENANT_A, GenerateKey("k", template(P256, 256, ECDSA, sign_hash=True)))
    run(provider, TENANT_A, SignHash("k", ECDSA, DIGEST))  # the key object is now cached by a pooled session
    with provider.token.session() as pooled:
        for key_object in list(pooled.session.get_objects({Attribute.ID: _key_id(kim, provider, "k")})):
            key_object.destroy()
    for _ in range(2):  # the stale handle, then a fresh look-up
        with pytest.raises(ParsecError) as caught:
            provider.execute(TENANT_A, SignHash("k", ECDSA, DIGEST))
        assert caught.value.status is Status.PSA_ERROR_DOES_NOT_EXIST


@pytest.mark.threat("A6-D-1", "O-3")
def test_the_start_up_sweep_only_touches_this_providers_objects(
    pkcs11_provider_factory: ProviderFactory, kim: KeyInfoManager, tmp_path: Path
) -> None:
    """Another provider (or application) on the same token keeps its keys when this one starts with no mappings."""
    neighbour = pkcs11_provider_factory(kim, "neighbour-provider")
    run(neighbour, TENANT_A, GenerateKey("theirs", template(P256, 256, ECDSA, sign_hash=True)))
    empty_kim = SQLiteKeyInfoManager("empty", tmp_path / "empty.sqlite3")
    try:
        newcomer = pkcs11_provider_factory(empty_kim, "newcomer-provider")
        assert isinstance(newcomer, Pkcs11Provider)
        run(newcomer, TENANT_A, GenerateKey("orphan-to-be", template(P256, 256, ECDSA, sign_hash=True)))
        orphan = _key_id(empty_kim, newcomer, "orphan-to-be")
        empty_kim.remove(newcomer.key_identity(TENANT_A, "orphan-to-be"))  # a crash lost the mapping
        assert newcomer.sweep() == (0, 1)  # its own unmapped object goes, the neighbour's stays
        assert not newcomer.key_exists(orphan)
    finally:
        empty_kim.close()
    run(neighbour, TENANT_A, SignHash("theirs", ECDSA, DIGEST))
