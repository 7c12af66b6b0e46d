"""Secrets from the config and the TPM's per-key auth values never reach a log, an error or a response.

The PKCS#11 PIN and the TPM hierarchy passwords (AS5, configuration data) and each TPM key's 32-byte auth value
(the U-4 mitigation, stored in the mapping) are searched for — as text, hexadecimal and Python bytes literals — in
every log record, every error message and every repr produced during whole sessions of work, successes and
failures alike: in process with every logger at DEBUG, and through `parsec-tm serve` at `log_level = "debug"` with
`log_error_details = true`, its complete output read back afterwards. Threats A8-I-1 (logs read by an adversary)
and A9-I-1 (configuration contents).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Iterable
from pathlib import Path

import pytest
from tpm2_pytss.constants import ESYS_TR
from tpm2_pytss.types import TPM2B_AUTH

from refimpl.client.basic_client import BasicClient, ClientError
from refimpl.errors import ConfigError, ParsecError
from refimpl.identity import KeyIdentity
from refimpl.ids import ProviderId, Status
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager
from refimpl.operations import (
    AsymmetricDecrypt,
    AsymmetricEncrypt,
    DestroyKey,
    ExportPublicKey,
    GenerateKey,
    GenerateRandom,
    Operation,
    SignHash,
    VerifyHash,
)
from refimpl.providers.base import Provider, ProviderSettings, provider_class
from refimpl.providers.tpm import TpmProvider
from refimpl.providers.tpm.common import WrappedKey
from refimpl.psa.types import Ecdsa, Hash, RsaKeyPair, RsaPkcs1v15Crypt
from tests.fixtures.real_parts import SoftHsmToken, Swtpm, SwtpmFactory
from tests.fixtures.service import ServiceFactory, ServiceOptions
from tests.hardware.conftest import Records
from tests.providers.helpers import P256, TENANT_A, template

ECDSA = Ecdsa(Hash.SHA_256)
PKCS1 = RsaPkcs1v15Crypt()
EC_KEY = template(P256, 256, ECDSA, sign_hash=True, verify_hash=True)
RSA_KEY = template(RsaKeyPair(), 1024, PKCS1, encrypt=True, decrypt=True)
DIGEST = hashlib.sha256(b"secrets").digest()


def forms(secret: bytes) -> list[str]:
    """How a secret could show up in text: itself, in hexadecimal (either case), or as a Python bytes literal."""
    found = [secret.hex(), secret.hex().upper(), repr(secret)[2:-1]]
    with contextlib.suppress(UnicodeDecodeError):
        found.append(secret.decode())
    return [form for form in found if len(form) >= 8]


def assert_nowhere(secrets_: dict[str, bytes], texts: Iterable[str]) -> None:
    corpus = "\n".join(texts)
    assert corpus, "nothing was captured: the test would prove nothing"
    for name, secret in secrets_.items():
        for form in forms(secret):
            assert form not in corpus, f"the {name} appears in the captured text as {form!r}"


def _owned_tpm(swtpm_factory: SwtpmFactory) -> tuple[Swtpm, bytes, bytes]:
    tpm = swtpm_factory()
    owner, endorsement = f"owner-{secrets.token_hex(8)}".encode(), secrets.token_bytes(16)
    with tpm.esapi() as esapi:
        esapi.hierarchy_change_auth(ESYS_TR.OWNER, TPM2B_AUTH(owner))
        esapi.hierarchy_change_auth(ESYS_TR.ENDORSEMENT, TPM2B_AUTH(endorsement))
    tpm.owner_password = owner.decode()
    return tpm, owner, endorsement


def _work(provider: Provider, errors: list[str]) -> None:
    """A session of successes and failures on one provider."""
    calls: list[Operation] = [
        GenerateKey("ec", EC_KEY),
        GenerateKey("rsa", RSA_KEY),
        ExportPublicKey("ec"),
        SignHash("ec", ECDSA, DIGEST),
        VerifyHash("ec", ECDSA, DIGEST, bytes(64)),
        AsymmetricDecrypt("rsa", PKCS1, bytes(128), None),
        SignHash("missing", ECDSA, DIGEST),
        GenerateKey("ec", EC_KEY),
        GenerateRandom(32),
        DestroyKey("ec"),
    ]
    for operation in calls:
        try:
            provider.execute(TENANT_A, operation)
        except ParsecError as error:
            errors.extend((str(error), error.detail, repr(error)))
    ciphertext = provider.execute(TENANT_A, AsymmetricEncrypt("rsa", PKCS1, b"x", None)).ciphertext
    provider.execute(TENANT_A, AsymmetricDecrypt("rsa", PKCS1, ciphertext, None))


@pytest.mark.threat("A8-I-1", "O-5", "A9-I-1", "O-6")
def test_no_secret_in_logs_errors_or_reprs_in_process(
    kim: KeyInfoManager,
    tmp_path: Path,
    all_logs: Records,
    softhsm_token: SoftHsmToken,
    softhsm_spare_token: SoftHsmToken,
    swtpm_factory: SwtpmFactory,
) -> None:
    tpm, owner, endorsement = _owned_tpm(swtpm_factory)
    errors: list[str] = []
    for options in (
        softhsm_spare_token.options(user_pin="str:" + softhsm_token.user_pin),  # the other token's PIN: refused
        tpm.options(owner_hierarchy_auth="str:" + softhsm_spare_token.user_pin),  # a wrong owner password
        tpm.options(endorsement_hierarchy_auth="hex:" + owner.hex()),  # a wrong endorsement password
    ):
        provider_type = "Pkcs11" if "library_path" in options else "Tpm"
        with pytest.raises(ConfigError) as refused:
            provider_class(provider_type).from_config("refused", options, kim, ProviderSettings())
        errors.extend((str(refused.value), repr(refused.value)))

    pkcs11 = provider_class("Pkcs11").from_config("pkcs11-provider", softhsm_token.options(), kim, ProviderSettings())
    options = tpm.options(endorsement_hierarchy_auth="hex:" + endorsement.hex())
    tpm_kim = SQLiteKeyInfoManager("tpm-manager", tmp_path / "tpm.sqlite3")  # key names are per key info manager
    tpm_provider = provider_class("Tpm").from_config("tpm-provider", options, tpm_kim, ProviderSettings())
    assert isinstance(tpm_provider, TpmProvider)
    try:
        for provider in (pkcs11, tpm_provider):
            _work(provider, errors)
        tpm_provider.execute(TENANT_A, GenerateKey("ec-kept", EC_KEY))
        mapping = tpm_kim.get(tpm_provider.key_identity(TENANT_A, "ec-kept"))
        assert mapping is not None
        key = WrappedKey.from_bytes(mapping.key_id)
        tampered = WrappedKey(secrets.token_bytes(32), key.private, key.public)
        tampered_mapping = KeyMapping(tampered.to_bytes(), EC_KEY)
        tpm_kim.insert(KeyIdentity(TENANT_A.identity, "tampered", tpm_provider.name), tampered_mapping)
        try:
            tpm_provider.execute(TENANT_A, SignHash("tampered", ECDSA, DIGEST))
        except ParsecError as error:
            assert error.status is Status.PSA_ERROR_DATA_CORRUPT
            errors.extend((str(error), error.detail))
        reprs = [repr(key), repr(tampered), repr(pkcs11.__dict__), repr(tpm_provider.__dict__)]
        reprs.append(repr(tpm_provider.context.__dict__))
    finally:
        pkcs11.close()
        tpm_provider.close()
        tpm_kim.close()

    assert any("hardware command" in record.getMessage() for record in all_logs.records)
    assert_nowhere(
        {
            "user PIN": softhsm_token.user_pin.encode(),
            "spare token's PIN": softhsm_spare_token.user_pin.encode(),
            "owner password": owner,
            "endorsement password": endorsement,
            "TPM key auth value": key.auth,
            "tampered auth value": tampered.auth,
        },
        [all_logs.text(), *errors, *reprs],
    )


@pytest.mark.threat("A8-I-1", "O-5")
def test_no_secret_in_the_service_log(
    service_factory: ServiceFactory, softhsm_token: SoftHsmToken, swtpm_factory: SwtpmFactory
) -> None:
    tpm, owner, endorsement = _owned_tpm(swtpm_factory)
    tpm_table = tpm.provider_table("tpm-provider", endorsement_hierarchy_auth="hex:" + endorsement.hex())
    options = ServiceOptions(log_level="debug", log_error_details=True).with_providers(
        softhsm_token.provider_table("pkcs11-provider"), tpm_table
    )
    service = service_factory(options)
    for provider in (ProviderId.PKCS11, ProviderId.TPM):
        client: BasicClient = service.client("tenant-a")
        client.implicit_provider = provider
        client.psa_generate_key("ec", EC_KEY)
        signature = client.psa_sign_hash("ec", DIGEST, ECDSA)
        client.psa_verify_hash("ec", DIGEST, ECDSA, signature)
        with pytest.raises(ClientError):
            client.psa_verify_hash("ec", DIGEST, ECDSA, bytes(64))
        with pytest.raises(ClientError):
            client.psa_sign_hash("missing", DIGEST, ECDSA)
        client.psa_destroy_key("ec")
    service.stop()

    log = service.log_text()
    assert "hardware command" in log and "Parsec is now terminated." in log
    assert_nowhere(
        {"user PIN": softhsm_token.user_pin.encode(), "owner password": owner, "endorsement password": endorsement},
        [log],
    )
