"""The TPM provider and the TPM's own state: leaked objects, kept keys, the storage key, reboots, tampered mappings.

Against private swtpm instances, as another client of the TPM would see it (raw ESAPI): a crashed client's
transient objects are flushed at start (swtpm has three slots and no resource manager); the last key used stays
loaded — one transient object — until another key, DestroyKey or close flushes it, and a kept key that another
client flushed is loaded again, while an object of that client now in its slot is neither used nor flushed; the
storage key is the TCG SRK made persistent at 0x81000001, or kept transient when that handle holds some other key,
which is left alone; keys survive a restart of the TPM itself; a tampered mapping (A6-T-1) is PsaErrorDataCorrupt,
and because keys carry noDA, tampered auth values cannot lock the whole TPM out (seed U-4: the TPM protects each
key with a long random auth value, so a key id without it is useless).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from tpm2_pytss.constants import ESYS_TR, TPM2_CAP, TPM2_HC, TPM2_PT
from tpm2_pytss.types import TPM2B_PRIVATE, TPM2B_PUBLIC

from refimpl.identity import KeyIdentity
from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.logs import Event
from refimpl.operations import DestroyKey, ExportPublicKey, GenerateKey, SignHash, VerifyHash
from refimpl.providers.base import ProviderSettings, provider_class
from refimpl.providers.tpm import TpmProvider
from refimpl.providers.tpm.common import WrappedKey
from refimpl.providers.tpm.context import KEPT_LOADED, SRK_HANDLE, srk_template
from refimpl.psa import formats
from refimpl.psa.types import Ecdsa, Hash
from tests.fixtures.real_parts import ProviderFactory, Swtpm, SwtpmFactory
from tests.hardware.conftest import KeyInfoManagerOpener
from tests.providers.helpers import P256, P256_PUBLIC, TENANT_A, TENANT_B, run, status_of, template

ECDSA = Ecdsa(Hash.SHA_256)
KEY = template(P256, 256, ECDSA, sign_hash=True, verify_hash=True)
DIGEST = hashlib.sha256(b"tpm state").digest()


def _handles(tpm: Swtpm, first: int) -> list[int]:
    with tpm.esapi() as esapi:
        _, data = esapi.get_capability(TPM2_CAP.HANDLES, first, 64)
        return [int(handle) for handle in data.data.handles]


def _tpm_provider(tpm: Swtpm, kim: KeyInfoManager) -> TpmProvider:
    provider = provider_class("Tpm").from_config("tpm-provider", tpm.options(), kim, ProviderSettings())
    assert isinstance(provider, TpmProvider)
    return provider


@pytest.mark.threat("A4-D-2", "M-5")
def test_transient_objects_left_by_a_crashed_client_are_flushed(
    swtpm_factory: SwtpmFactory, kim: KeyInfoManager
) -> None:
    tpm = swtpm_factory()
    with tpm.esapi() as crashed:  # fills every transient slot and goes away without flushing
        for _ in range(3):
            crashed.create_primary(None, "ecc256:aes128cfb")
    assert len(_handles(tpm, TPM2_HC.TRANSIENT_FIRST)) == 3

    provider = _tpm_provider(tpm, kim)
    try:
        assert _handles(tpm, TPM2_HC.TRANSIENT_FIRST) == []
        run(provider, TENANT_A, GenerateKey("k", KEY))
        signature = run(provider, TENANT_A, SignHash("k", ECDSA, DIGEST)).signature
        run(provider, TENANT_A, VerifyHash("k", ECDSA, DIGEST, signature))
        assert len(_handles(tpm, TPM2_HC.TRANSIENT_FIRST)) == KEPT_LOADED  # the key just used, nothing else
    finally:
        provider.close()
    assert _handles(tpm, TPM2_HC.TRANSIENT_FIRST) == []


def _commands(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The TPM commands of the M-4 "issued" events, in order."""
    issued = Event.HARDWARE_COMMAND_ISSUED.value
    messages = [record.getMessage() for record in caplog.records if record.getMessage().startswith(issued)]
    return [message.split("command=")[1].split()[0].strip('"') for message in messages]


def _verifies(provider: TpmProvider, name: str, signature: bytes) -> bool:
    """Whether `cryptography` accepts the signature with the exported public key of `name`."""
    public = formats.load_public_key(P256_PUBLIC, 256, run(provider, TENANT_A, ExportPublicKey(name)).data)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    try:
        public.verify(formats.ecdsa_signature_to_der(signature, 256), DIGEST, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True


def test_the_last_key_used_stays_loaded_until_another_key_destroy_or_close(
    swtpm_factory: SwtpmFactory, kim: KeyInfoManager, caplog: pytest.LogCaptureFixture
) -> None:
    tpm = swtpm_factory()
    provider = _tpm_provider(tpm, kim)
    try:
        for name in ("a", "b"):
            run(provider, TENANT_A, GenerateKey(name, KEY))
        caplog.set_level(logging.INFO, logger="refimpl.providers.tpm")
        for name in ("a", "a", "b", "a"):
            assert _verifies(provider, name, run(provider, TENANT_A, SignHash(name, ECDSA, DIGEST)).signature)
            assert len(_handles(tpm, TPM2_HC.TRANSIENT_FIRST)) == KEPT_LOADED
        signing = [command for command in _commands(caplog) if "Sign" in command]
        assert signing == ["TPM2_Load+Sign", "TPM2_Sign", "TPM2_FlushContext+Load+Sign", "TPM2_FlushContext+Load+Sign"]
        run(provider, TENANT_A, DestroyKey("a"))
        assert _handles(tpm, TPM2_HC.TRANSIENT_FIRST) == []
        run(provider, TENANT_A, SignHash("b", ECDSA, DIGEST))
    finally:
        provider.close()
    assert _handles(tpm, TPM2_HC.TRANSIENT_FIRST) == []


def test_a_kept_key_lost_to_another_client_is_loaded_again_and_never_signs_with_its_object(
    swtpm_factory: SwtpmFactory, open_kim: KeyInfoManagerOpener, caplog: pytest.LogCaptureFixture
) -> None:
    """Two providers of the process on one TPM through two connections (two spellings of the TCTI): the second's
    start flushes every transient object, the first's kept key included, and its next key takes that slot. With
    both keeping a key, each can still load another (swtpm's third slot holds the storage key during a load)."""
    tpm = swtpm_factory()
    first = _tpm_provider(tpm, open_kim())
    try:
        for name in ("first", "first-b"):
            run(first, TENANT_A, GenerateKey(name, KEY))
        run(first, TENANT_A, SignHash("first", ECDSA, DIGEST))  # kept, in the first transient slot
        alias = tpm.options(tcti=f"swtpm:host=localhost,port={tpm.port}")
        second = provider_class("Tpm").from_config("second-provider", alias, open_kim(), ProviderSettings())
        assert isinstance(second, TpmProvider) and second.context is not first.context
        try:
            run(second, TENANT_A, GenerateKey("second", KEY))
            run(second, TENANT_A, SignHash("second", ECDSA, DIGEST))  # the second's key now holds that slot
            caplog.set_level(logging.WARNING, logger="refimpl.providers.tpm")
            for _ in range(2):
                for provider, name in ((first, "first"), (second, "second"), (first, "first-b")):
                    signature = run(provider, TENANT_A, SignHash(name, ECDSA, DIGEST)).signature
                    assert _verifies(provider, name, signature), f"{name} signed with another key"
            assert len(_handles(tpm, TPM2_HC.TRANSIENT_FIRST)) == 2  # one kept key each, none flushed by the other
            assert any("flushed by another client" in record.getMessage() for record in caplog.records)
        finally:
            second.close()
    finally:
        first.close()
    assert _handles(tpm, TPM2_HC.TRANSIENT_FIRST) == []


def test_the_storage_key_is_the_persistent_tcg_srk(swtpm_factory: SwtpmFactory, kim: KeyInfoManager) -> None:
    tpm = swtpm_factory()
    assert SRK_HANDLE not in _handles(tpm, TPM2_HC.PERSISTENT_FIRST)
    provider = _tpm_provider(tpm, kim)
    provider.close()
    with tpm.esapi() as esapi:
        persistent = esapi.tr_from_tpmpublic(SRK_HANDLE)
        expected = TPM2B_PUBLIC(srk_template().publicArea)
        created, public, _, _, _ = esapi.create_primary(None, expected)
        assert bytes(esapi.tr_get_name(persistent)) == bytes(public.get_name())
        esapi.flush_context(created)
    assert _handles(tpm, TPM2_HC.PERSISTENT_FIRST) == [SRK_HANDLE]


def test_another_key_at_the_srk_handle_is_left_alone(swtpm_factory: SwtpmFactory, kim: KeyInfoManager) -> None:
    tpm = swtpm_factory()
    with tpm.esapi() as owner_tool:
        other, _, _, _, _ = owner_tool.create_primary(None, "rsa2048:aes128cfb")
        persistent = owner_tool.evict_control(ESYS_TR.OWNER, other, SRK_HANDLE)
        other_name = bytes(owner_tool.tr_get_name(persistent))
        owner_tool.flush_context(other)

    provider = _tpm_provider(tpm, kim)
    try:
        run(provider, TENANT_A, GenerateKey("k", KEY))
        run(provider, TENANT_A, SignHash("k", ECDSA, DIGEST))
        assert len(_handles(tpm, TPM2_HC.TRANSIENT_FIRST)) == 1  # the storage key, kept loaded instead, and no key
    finally:
        provider.close()
    assert _handles(tpm, TPM2_HC.TRANSIENT_FIRST) == []
    with tpm.esapi() as esapi:
        assert bytes(esapi.tr_get_name(esapi.tr_from_tpmpublic(SRK_HANDLE))) == other_name


def test_keys_survive_a_restart_of_the_tpm_itself(swtpm_factory: SwtpmFactory, open_kim: KeyInfoManagerOpener) -> None:
    tpm = swtpm_factory()
    kim = open_kim()
    provider = _tpm_provider(tpm, kim)
    run(provider, TENANT_A, GenerateKey("k", KEY))
    public = run(provider, TENANT_A, ExportPublicKey("k")).data
    signature = run(provider, TENANT_A, SignHash("k", ECDSA, DIGEST)).signature
    provider.close()
    kim.close()
    tpm.stop()

    rebooted = swtpm_factory(tpm.state_dir)  # same state, new process, new port
    assert rebooted.port != tpm.port or rebooted.pid != tpm.pid
    restarted = _tpm_provider(rebooted, open_kim())
    try:
        assert run(restarted, TENANT_A, ExportPublicKey("k")).data == public
        run(restarted, TENANT_A, VerifyHash("k", ECDSA, DIGEST, signature))
        run(restarted, TENANT_A, SignHash("k", ECDSA, DIGEST))
    finally:
        restarted.close()


def _tamper(kim: KeyInfoManager, provider: TpmProvider, name: str, change: Callable[[bytes], bytes]) -> None:
    key = KeyIdentity(TENANT_A.identity, name, provider.name)
    mapping = kim.remove(key)
    assert mapping is not None
    kim.insert(key, KeyMapping(change(mapping.key_id), mapping.attributes))


@pytest.mark.threat("A6-T-1", "O-3")
def test_tampered_mappings_are_data_corrupt(tpm_provider_factory: ProviderFactory, kim: KeyInfoManager) -> None:
    provider = tpm_provider_factory(kim)
    assert isinstance(provider, TpmProvider)
    for name in ("wrong-auth", "wrong-private", "truncated"):
        run(provider, TENANT_A, GenerateKey(name, KEY))

    def wrong_auth(key_id: bytes) -> bytes:
        key = WrappedKey.from_bytes(key_id)
        return WrappedKey(bytes(32), key.private, key.public).to_bytes()

    def wrong_private(key_id: bytes) -> bytes:
        key = WrappedKey.from_bytes(key_id)
        private = bytearray(bytes(key.private))
        private[-1] ^= 0x01
        return WrappedKey(key.auth, TPM2B_PRIVATE(bytes(private)), key.public).to_bytes()

    _tamper(kim, provider, "wrong-auth", wrong_auth)
    _tamper(kim, provider, "wrong-private", wrong_private)
    _tamper(kim, provider, "truncated", lambda key_id: key_id[:-5])
    for name in ("wrong-auth", "wrong-private", "truncated"):
        assert status_of(provider, TENANT_A, SignHash(name, ECDSA, DIGEST)) is Status.PSA_ERROR_DATA_CORRUPT, name


@pytest.mark.threat("A4-E-1", "U-4")
def test_a_key_id_without_its_auth_value_is_useless_and_cannot_lock_the_tpm_out(
    swtpm_factory: SwtpmFactory, kim: KeyInfoManager
) -> None:
    """With swtpm's real lockout policy (3 failures, then 1000 s), five wrong auth values lock nothing out."""
    tpm = swtpm_factory(lenient_lockout=False)
    provider = _tpm_provider(tpm, kim)
    try:
        run(provider, TENANT_A, GenerateKey("victim", KEY))
        run(provider, TENANT_A, GenerateKey("bystander", KEY))
        mapping = kim.get(KeyIdentity(TENANT_A.identity, "victim", provider.name))
        assert mapping is not None
        stolen = WrappedKey.from_bytes(mapping.key_id)
        for guess in range(5):
            guessed = WrappedKey(bytes([guess]) * 32, stolen.private, stolen.public).to_bytes()
            kim.insert(KeyIdentity(TENANT_B.identity, f"guess-{guess}", provider.name), KeyMapping(guessed, KEY))
            sign = SignHash(f"guess-{guess}", ECDSA, DIGEST)
            assert status_of(provider, TENANT_B, sign) is Status.PSA_ERROR_DATA_CORRUPT
        signature = run(provider, TENANT_A, SignHash("bystander", ECDSA, DIGEST)).signature
        run(provider, TENANT_A, VerifyHash("bystander", ECDSA, DIGEST, signature))
        with tpm.esapi() as esapi:
            _, data = esapi.get_capability(TPM2_CAP.TPM_PROPERTIES, TPM2_PT.LOCKOUT_COUNTER, 1)
            assert data.data.tpmProperties[0].value == 0
    finally:
        provider.close()


def test_a_mapping_that_does_not_parse_is_dropped_at_start(
    tpm_provider_factory: ProviderFactory, open_kim: KeyInfoManagerOpener
) -> None:
    kim = open_kim()
    provider = tpm_provider_factory(kim)
    run(provider, TENANT_A, GenerateKey("kept", KEY))
    kim.insert(KeyIdentity(TENANT_A.identity, "garbage", provider.name), KeyMapping(b"\x07not a key", KEY))
    provider.close()
    restarted = tpm_provider_factory(kim)
    assert kim.get(KeyIdentity(TENANT_A.identity, "garbage", restarted.name)) is None
    assert kim.get(KeyIdentity(TENANT_A.identity, "kept", restarted.name)) is not None
