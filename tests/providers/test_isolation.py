"""Tenant isolation at provider level: a key name is only ever resolved within its owner's namespace.

The seed's threat A1-S-1 (using another client's identity gives access to its keys, U-2): without that identity,
tenant B cannot use, export or destroy tenant A's key, and both may use the same name for two different keys.
Keys are namespaced by (authenticator, application name), as in the SQLite key info manager (parsec-facts §4.7).
"""

from __future__ import annotations

import hashlib

import pytest

from refimpl.identity import Application
from refimpl.ids import Opcode, Status
from refimpl.operations import DestroyKey, ExportKey, ExportPublicKey, GenerateKey, Operation, SignHash
from refimpl.providers.base import KeyStoreProvider
from refimpl.psa.types import Ecdsa, Hash
from tests.providers.helpers import P256, TENANT_A, TENANT_A_BY_UID, TENANT_B, run, status_of, template

ALGORITHM = Ecdsa(Hash.SHA_256)
KEY = template(P256, 256, ALGORITHM, sign_hash=True, verify_hash=True, export=True)
DIGEST = hashlib.sha256(b"isolation").digest()
USES: list[Operation] = [
    SignHash("shared-name", ALGORITHM, DIGEST),
    ExportPublicKey("shared-name"),
    DestroyKey("shared-name"),
]


@pytest.mark.parametrize("intruder", [TENANT_B, TENANT_A_BY_UID], ids=["other-name", "same-name-other-authenticator"])
@pytest.mark.threat("A1-S-1", "U-2")
@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_SIGN_HASH, Opcode.PSA_EXPORT_PUBLIC_KEY, Opcode.PSA_DESTROY_KEY)
def test_another_tenant_cannot_use_export_or_destroy_a_key(provider: KeyStoreProvider, intruder: Application) -> None:
    run(provider, TENANT_A, GenerateKey("shared-name", KEY))
    public = run(provider, TENANT_A, ExportPublicKey("shared-name")).data
    for operation in USES:
        assert status_of(provider, intruder, operation) is Status.PSA_ERROR_DOES_NOT_EXIST, operation
    assert run(provider, TENANT_A, ExportPublicKey("shared-name")).data == public  # still there, unchanged
    run(provider, TENANT_A, SignHash("shared-name", ALGORITHM, DIGEST))


@pytest.mark.threat("A1-S-1", "U-2")
@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_KEY, Opcode.PSA_DESTROY_KEY)
def test_another_tenant_cannot_export_a_private_key(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("shared-name", KEY))
    assert status_of(provider, TENANT_B, ExportKey("shared-name")) is Status.PSA_ERROR_DOES_NOT_EXIST
    assert len(run(provider, TENANT_A, ExportKey("shared-name")).data) == 32


@pytest.mark.threat("A1-S-1", "U-2")
@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY, Opcode.PSA_DESTROY_KEY)
def test_the_same_name_in_two_tenants_is_two_keys(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("shared-name", KEY))
    run(provider, TENANT_B, GenerateKey("shared-name", KEY))
    public_a = run(provider, TENANT_A, ExportPublicKey("shared-name")).data
    public_b = run(provider, TENANT_B, ExportPublicKey("shared-name")).data
    assert public_a != public_b

    run(provider, TENANT_B, DestroyKey("shared-name"))
    assert run(provider, TENANT_A, ExportPublicKey("shared-name")).data == public_a
    assert status_of(provider, TENANT_B, ExportPublicKey("shared-name")) is Status.PSA_ERROR_DOES_NOT_EXIST


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY)
def test_key_operations_without_an_application_are_not_authenticated(provider: KeyStoreProvider) -> None:
    assert status_of(provider, None, GenerateKey("k", KEY)) is Status.NOT_AUTHENTICATED
