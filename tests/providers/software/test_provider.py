"""The software provider as Parsec's Mbed Crypto provider: identity, opcode list, and `[[provider]]` config.

Facts checked: §2.3 (ID 1, UUID, vendor, description, default name, version 0.1.0), §4.5 (exactly 16 opcodes),
§5.5 (`provider_type = "MbedCrypto"`; our `key_store_path` extension), and the start-up sweep after a restart.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from refimpl.errors import ConfigError
from refimpl.ids import Opcode, ProviderId
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.operations import ExportPublicKey, GenerateKey
from refimpl.providers.base import ProviderSettings, provider_class
from refimpl.providers.software import DEFAULT_KEY_STORE, SoftwareProvider
from refimpl.psa.bincode import encode_key_id_u32
from refimpl.psa.types import Ecdsa, Hash
from tests.providers.helpers import P256, TENANT_A, run, template
from tests.providers.software.conftest import SoftwareFactory

MBED_CRYPTO_OPCODES = {
    Opcode.PSA_GENERATE_KEY,
    Opcode.PSA_DESTROY_KEY,
    Opcode.PSA_SIGN_HASH,
    Opcode.PSA_VERIFY_HASH,
    Opcode.PSA_IMPORT_KEY,
    Opcode.PSA_EXPORT_KEY,
    Opcode.PSA_EXPORT_PUBLIC_KEY,
    Opcode.PSA_ASYMMETRIC_DECRYPT,
    Opcode.PSA_ASYMMETRIC_ENCRYPT,
    Opcode.PSA_AEAD_ENCRYPT,
    Opcode.PSA_AEAD_DECRYPT,
    Opcode.PSA_HASH_COMPARE,
    Opcode.PSA_HASH_COMPUTE,
    Opcode.PSA_RAW_KEY_AGREEMENT,
    Opcode.PSA_GENERATE_RANDOM,
    Opcode.CAN_DO_CRYPTO,
}
"""svc:src/providers/mbed_crypto/mod.rs SUPPORTED_OPCODES (parsec-facts §4.5)."""
KEY = template(P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True)


def test_registered_as_mbed_crypto() -> None:
    assert provider_class("MbedCrypto") is SoftwareProvider


def test_list_opcodes_answers_parsecs_sixteen(software: SoftwareProvider) -> None:
    assert software.opcodes == MBED_CRYPTO_OPCODES
    assert len(MBED_CRYPTO_OPCODES) == 16


def test_describes_itself_as_parsecs_mbed_crypto_provider(software: SoftwareProvider) -> None:
    info = software.describe()
    assert info.id is ProviderId.MBED_CRYPTO
    assert info.uuid == "1c1139dc-ad7c-47dc-ad6b-db6fdb466552"
    assert info.vendor == "Arm"
    assert info.description == (
        "User space software provider, based on Mbed Crypto - the reference implementation of the PSA crypto API"
    )
    assert (info.version_maj, info.version_min, info.version_rev) == (0, 1, 0)
    assert SoftwareProvider.IDENTITY.default_name == "mbed-crypto-provider"


def test_the_default_store_is_in_the_working_directory(tmp_path: Path, software_factory: SoftwareFactory) -> None:
    provider = software_factory(options={})
    run(provider, TENANT_A, GenerateKey("k", KEY))
    store = tmp_path / DEFAULT_KEY_STORE
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert [path.suffix for path in store.iterdir() if path.suffix == ".key"] == [".key"]


def test_a_relative_store_path_is_under_the_working_directory(
    tmp_path: Path, software_factory: SoftwareFactory
) -> None:
    software_factory(options={"key_store_path": "state/keys"})
    assert (tmp_path / "state" / "keys").is_dir()


@pytest.mark.parametrize("value", ["", 42, ["keys"]])
def test_a_store_path_that_is_not_a_path_names_the_key(software_factory: SoftwareFactory, value: object) -> None:
    with pytest.raises(ConfigError) as raised:
        software_factory(options={"key_store_path": value})
    assert raised.value.key == "provider (mbed-crypto-provider).key_store_path"


def test_a_missing_key_info_manager_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        SoftwareProvider.from_config("soft", {}, None, ProviderSettings(working_directory=tmp_path))
    assert raised.value.key == "provider (soft).key_info_manager"


@pytest.mark.threat("A6-S-1", "O-3")
def test_a_store_open_to_others_is_refused_with_the_fix(tmp_path: Path, software_factory: SoftwareFactory) -> None:
    store = tmp_path / "open"
    store.mkdir(mode=0o755)
    store.chmod(0o755)
    with pytest.raises(ConfigError) as raised:
        software_factory(options={"key_store_path": str(store)})
    assert raised.value.key.endswith(".key_store_path")
    assert f"chmod 700 {store}" in raised.value.message


def test_a_store_path_that_is_a_file_is_refused(tmp_path: Path, software_factory: SoftwareFactory) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ConfigError, match="not a directory"):
        software_factory(options={"key_store_path": str(tmp_path / "file")})


def test_a_store_belongs_to_one_provider_name(software_factory: SoftwareFactory) -> None:
    software_factory(name="first").close()
    with pytest.raises(ConfigError, match="holds the keys of provider 'first'"):
        software_factory(name="second")
    software_factory(name="first")  # the owner itself reopens it


@pytest.mark.threat("A7-S-1", "O-3")
def test_the_sweep_after_a_restart_reconciles_store_and_mappings(
    software_factory: SoftwareFactory, key_info_manager: KeyInfoManager
) -> None:
    provider = software_factory()
    run(provider, TENANT_A, GenerateKey("kept", KEY))
    run(provider, TENANT_A, GenerateKey("orphan", KEY))
    orphan = key_info_manager.remove(provider.key_identity(TENANT_A, "orphan"))
    assert orphan is not None
    dangling = provider.key_identity(TENANT_A, "dangling")
    key_info_manager.insert(dangling, KeyMapping(encode_key_id_u32(0x1234), KEY))
    provider.close()

    restarted = software_factory()
    assert restarted.key_exists(orphan.key_id)  # building does not sweep: the service does, once all are built
    assert restarted.sweep() == (1, 1)
    assert not restarted.key_exists(orphan.key_id)
    assert key_info_manager.get(dangling) is None
    assert len(run(restarted, TENANT_A, ExportPublicKey("kept")).data) == 65


def test_store_files_are_private_whatever_the_umask(tmp_path: Path, software_factory: SoftwareFactory) -> None:
    previous = os.umask(0)
    try:
        provider = software_factory(options={"key_store_path": str(tmp_path / "umask0")})
        run(provider, TENANT_A, GenerateKey("k", KEY))
    finally:
        os.umask(previous)
    store = tmp_path / "umask0"
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in store.iterdir()}
    assert modes and set(modes.values()) == {0o600}, modes
