"""Persistence on every provider: keys survive a restart, and the start-up sweep reconciles keys and mappings.

The shared life cycle of refimpl/providers/base.py (parsec-facts §4.5, "Generate/import algorithm for KIM-backed
providers"): a crash between creating a key and storing its mapping, or between removing a mapping and destroying
its key, must orphan nothing once the provider starts again. Threats A7-S-1 (a mapping to a key that is not there)
and A6-D-1/A7-D-2 (lost storage) are about exactly these states.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from refimpl.ids import Opcode, Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import ExportPublicKey, GenerateKey, SignHash, VerifyHash
from refimpl.providers.base import KeyStoreProvider
from refimpl.psa.types import Ecdsa, Hash
from tests.providers.conftest import ProviderBuilder
from tests.providers.helpers import P256, TENANT_A, run, status_of, template

ALGORITHM = Ecdsa(Hash.SHA_256)
KEY = template(P256, 256, ALGORITHM, sign_hash=True, verify_hash=True)
DIGEST = hashlib.sha256(b"persistence").digest()


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_SIGN_HASH, Opcode.PSA_VERIFY_HASH, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_keys_survive_a_restart(
    provider: KeyStoreProvider,
    build_provider: ProviderBuilder,
    key_info_manager: KeyInfoManager,
    open_key_info_manager: Callable[[], KeyInfoManager],
) -> None:
    run(provider, TENANT_A, GenerateKey("k", KEY))
    public = run(provider, TENANT_A, ExportPublicKey("k")).data
    signature = run(provider, TENANT_A, SignHash("k", ALGORITHM, DIGEST)).signature
    provider.close()
    key_info_manager.close()

    restarted = build_provider(open_key_info_manager())
    assert run(restarted, TENANT_A, ExportPublicKey("k")).data == public
    run(restarted, TENANT_A, VerifyHash("k", ALGORITHM, DIGEST, signature))
    new_signature = run(restarted, TENANT_A, SignHash("k", ALGORITHM, DIGEST)).signature
    run(restarted, TENANT_A, VerifyHash("k", ALGORITHM, DIGEST, new_signature))
    assert status_of(restarted, TENANT_A, GenerateKey("k", KEY)) is Status.PSA_ERROR_ALREADY_EXISTS


@pytest.mark.threat("A7-S-1", "O-3")
@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY, "enumerates_keys")
def test_the_sweep_drops_a_mapping_whose_key_is_gone(
    provider: KeyStoreProvider, key_info_manager: KeyInfoManager
) -> None:
    run(provider, TENANT_A, GenerateKey("kept", KEY))
    run(provider, TENANT_A, GenerateKey("lost", KEY))
    lost = key_info_manager.get(provider.key_identity(TENANT_A, "lost"))
    assert lost is not None
    provider.destroy_key_material(lost.key_id)  # the crash: key gone, mapping left

    assert provider.sweep() == (1, 0)
    assert key_info_manager.get(provider.key_identity(TENANT_A, "lost")) is None
    assert status_of(provider, TENANT_A, ExportPublicKey("lost")) is Status.PSA_ERROR_DOES_NOT_EXIST
    assert len(run(provider, TENANT_A, ExportPublicKey("kept")).data) == 65
    run(provider, TENANT_A, GenerateKey("lost", KEY))  # the name is free again


@pytest.mark.threat("A6-S-1", "O-3")
@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY, "enumerates_keys")
def test_the_sweep_destroys_a_key_no_mapping_names(
    provider: KeyStoreProvider, key_info_manager: KeyInfoManager
) -> None:
    run(provider, TENANT_A, GenerateKey("kept", KEY))
    run(provider, TENANT_A, GenerateKey("orphan", KEY))
    orphan = key_info_manager.remove(provider.key_identity(TENANT_A, "orphan"))  # the crash: mapping gone, key left
    assert orphan is not None and provider.key_exists(orphan.key_id)

    assert provider.sweep() == (0, 1)
    assert not provider.key_exists(orphan.key_id)
    kept = key_info_manager.get(provider.key_identity(TENANT_A, "kept"))
    assert kept is not None and set(provider.stored_key_ids() or ()) == {kept.key_id}
    assert provider.sweep() == (0, 0)
