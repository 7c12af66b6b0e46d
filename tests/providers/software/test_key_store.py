"""The software provider's key store: private files, atomic writes, PSA key ids, and damage it must survive.

`refimpl/providers/software/key_store.py`. The store is a data store an attacker with file access targets like the
key mappings (seed attackers A6/A7): the tests tamper with it directly and check that the provider answers a
status — never crashes (A7-D-3, M-5), never uses a key the policy does not allow (A6-T-1, O-3).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from refimpl.errors import ConfigError
from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.operations import DestroyKey, ExportKey, ExportPublicKey, GenerateKey, SignHash
from refimpl.providers.software import SoftwareProvider
from refimpl.providers.software.key_store import COUNTER_FILE, KEY_ID_MAX, KeyStore, StoredKey
from refimpl.psa.bincode import decode_key_id_u32
from refimpl.psa.types import Ecdsa, Hash, UsageFlags
from tests.providers.helpers import P256, TENANT_A, run, status_of, template
from tests.providers.software.conftest import SoftwareFactory

KEY = template(P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True)


def _key_id(provider: SoftwareProvider, manager: KeyInfoManager, name: str) -> int:
    mapping = manager.get(provider.key_identity(TENANT_A, name))
    assert mapping is not None
    return decode_key_id_u32(mapping.key_id)


def test_key_ids_count_from_one_and_are_never_reused(
    tmp_path: Path, software_factory: SoftwareFactory, key_info_manager: KeyInfoManager
) -> None:
    provider = software_factory()
    for name in ("a", "b", "c"):
        run(provider, TENANT_A, GenerateKey(name, KEY))
    assert [_key_id(provider, key_info_manager, name) for name in ("a", "b", "c")] == [1, 2, 3]
    run(provider, TENANT_A, DestroyKey("c"))
    provider.close()
    (tmp_path / "keys" / COUNTER_FILE).unlink()  # even a lost counter restarts above the largest stored id

    provider = software_factory()
    run(provider, TENANT_A, GenerateKey("d", KEY))
    assert _key_id(provider, key_info_manager, "d") == 3
    run(provider, TENANT_A, GenerateKey("e", KEY))
    assert _key_id(provider, key_info_manager, "e") == 4


def test_the_key_id_space_running_out_is_insufficient_memory(tmp_path: Path, software_factory: SoftwareFactory) -> None:
    provider = software_factory()
    (tmp_path / "keys" / COUNTER_FILE).write_text(str(KEY_ID_MAX - 1), encoding="ascii")
    run(provider, TENANT_A, GenerateKey("last", KEY))
    assert status_of(provider, TENANT_A, GenerateKey("one-too-many", KEY)) is Status.PSA_ERROR_INSUFFICIENT_MEMORY
    assert status_of(provider, TENANT_A, ExportPublicKey("one-too-many")) is Status.PSA_ERROR_DOES_NOT_EXIST


def test_writes_leave_no_temporary_files(tmp_path: Path, software: SoftwareProvider) -> None:
    for index in range(5):
        run(software, TENANT_A, GenerateKey(f"k{index}", KEY))
    names = sorted(path.name for path in (tmp_path / "keys").iterdir())
    assert not [name for name in names if name.endswith(".tmp")]
    assert len([name for name in names if name.endswith(".key")]) == 5


def test_a_key_file_round_trips_attributes_and_material(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "store")
    key = StoredKey(KEY, b"\x01" * 32)
    store.write(7, key)
    assert store.read(7) == key
    assert "01010101" not in repr(key)  # material never appears in a repr (logs, tracebacks)
    assert store.key_ids() == [7]
    store.delete(7)
    store.delete(7)  # already gone: not an error
    assert store.key_ids() == []


@pytest.mark.threat("A7-D-3", "M-5")
@pytest.mark.parametrize(
    "damage",
    [b"", b"PTMK", b"not a key file at all", b"PTMK\x01\xff\xff\xff\xff", b"PTMK\x09\x00\x00\x00\x00"],
    ids=["empty", "header-only", "garbage", "huge-length", "unknown-version"],
)
def test_a_damaged_key_file_is_data_corrupt(
    tmp_path: Path, software: SoftwareProvider, key_info_manager: KeyInfoManager, damage: bytes
) -> None:
    run(software, TENANT_A, GenerateKey("k", KEY))
    software.close()  # forget cached keys, as after a restart
    path = tmp_path / "keys" / f"{_key_id(software, key_info_manager, 'k'):08x}.key"
    path.write_bytes(damage)
    assert status_of(software, TENANT_A, ExportPublicKey("k")) is Status.PSA_ERROR_DATA_CORRUPT


@pytest.mark.threat("A7-D-3", "M-5")
def test_material_that_no_longer_parses_is_data_corrupt(tmp_path: Path, software: SoftwareProvider) -> None:
    run(software, TENANT_A, GenerateKey("k", KEY))
    software.close()
    store = KeyStore(tmp_path / "keys")
    store.write(1, StoredKey(KEY, b"\x00" * 32))  # a zero scalar is not a P-256 private key
    assert status_of(software, TENANT_A, ExportPublicKey("k")) is Status.PSA_ERROR_DATA_CORRUPT


@pytest.mark.threat("A7-D-3", "M-5")
def test_a_mapping_with_a_malformed_key_id_is_a_key_info_manager_error(
    software: SoftwareProvider, key_info_manager: KeyInfoManager
) -> None:
    key_info_manager.insert(software.key_identity(TENANT_A, "k"), KeyMapping(b"\x01\x02", KEY))
    assert status_of(software, TENANT_A, ExportPublicKey("k")) is Status.KEY_INFO_MANAGER_ERROR
    assert software.sweep() == (1, 0)  # and the start-up sweep drops it


@pytest.mark.threat("A7-S-1", "M-6")
def test_a_key_file_removed_underneath_is_does_not_exist(tmp_path: Path, software: SoftwareProvider) -> None:
    run(software, TENANT_A, GenerateKey("k", KEY))
    software.close()
    (tmp_path / "keys" / "00000001.key").unlink()
    assert status_of(software, TENANT_A, ExportPublicKey("k")) is Status.PSA_ERROR_DOES_NOT_EXIST


@pytest.mark.threat("A6-T-1", "O-3")
def test_widening_the_policy_in_the_mapping_grants_nothing(
    software: SoftwareProvider, key_info_manager: KeyInfoManager
) -> None:
    """The policy in force is the key store's copy, as with Mbed Crypto: editing the KIM does not add `export`."""
    run(software, TENANT_A, GenerateKey("k", KEY))
    identity = software.key_identity(TENANT_A, "k")
    mapping = key_info_manager.get(identity)
    assert mapping is not None
    everything = UsageFlags(export=True, sign_hash=True, verify_hash=True, sign_message=True)
    widened = replace(mapping.attributes, policy=replace(mapping.attributes.policy, usage_flags=everything))
    key_info_manager.remove(identity)  # the attacker rewrites the stored mapping (insert never overwrites)
    key_info_manager.insert(identity, KeyMapping(mapping.key_id, widened))
    software.close()

    assert status_of(software, TENANT_A, ExportKey("k")) is Status.PSA_ERROR_NOT_PERMITTED
    run(software, TENANT_A, SignHash("k", Ecdsa(Hash.SHA_256), bytes(32)))


def test_a_corrupt_counter_stops_start_up_with_the_fix(tmp_path: Path, software_factory: SoftwareFactory) -> None:
    software_factory().close()
    (tmp_path / "keys" / COUNTER_FILE).write_text("seven", encoding="ascii")
    with pytest.raises(ConfigError, match="delete it"):
        software_factory()
    (tmp_path / "keys" / COUNTER_FILE).unlink()
    software_factory()
