"""`model.step` answers what Parsec answers (parsec-facts §1.2 steps 8–13, §3.8, §4.6) and keeps its stores straight."""

from __future__ import annotations

import pytest

from model import KeyAttributes, KeyKind, KeyName, Lifecycle, NotEnabled, ProviderId, State, Tenant, Usage
from model import initial_state as fresh
from model.operations import (
    AsymmetricEncrypt,
    AttestKey,
    CrashAfterMappingRemoval,
    CrashAfterProviderWrite,
    DeleteClient,
    DestroyKey,
    ExportKey,
    ExportPublicKey,
    GenerateKey,
    GenerateRandom,
    HashCompare,
    ImportKey,
    ListClients,
    ListKeys,
    ListOpcodes,
    ListProviders,
    Ping,
    PrepareKeyAttestation,
    Reload,
    Restart,
    Shutdown,
    SignHash,
    VerifyHash,
)
from model.step import enabled, step

ALICE = Tenant("direct", "alice")
BOB = Tenant("direct", "bob")
ADMIN = Tenant("direct", "admin")
K1 = KeyName("k1")
MBED = ProviderId.MBED_CRYPTO
SIGNING = KeyAttributes(KeyKind.ECC_SIGN_PAIR, frozenset({Usage.SIGN_HASH, Usage.VERIFY_HASH}))
EXPORTABLE = KeyAttributes(KeyKind.ECC_SIGN_PAIR, frozenset({Usage.SIGN_HASH, Usage.EXPORT}))


def run(state: State, *operations: object) -> tuple[State, list[str | None]]:
    statuses = []
    for operation in operations:
        state, outcome = step(state, operation)  # type: ignore[arg-type]
        statuses.append(outcome.status)
    return state, statuses


@pytest.fixture
def state() -> State:
    return fresh("no-idp")


def test_key_lifecycle_statuses(state: State) -> None:
    _, statuses = run(
        state,
        GenerateKey(ALICE, MBED, K1, SIGNING),
        GenerateKey(ALICE, MBED, K1, SIGNING),
        SignHash(ALICE, MBED, K1),
        DestroyKey(ALICE, MBED, K1),
        SignHash(ALICE, MBED, K1),
        DestroyKey(ALICE, MBED, K1),
    )
    assert statuses == [
        "Success",
        "PsaErrorAlreadyExists",
        "Success",
        "Success",
        "PsaErrorDoesNotExist",
        "PsaErrorDoesNotExist",
    ]


def test_same_name_under_two_tenants_names_two_keys(state: State) -> None:
    state, statuses = run(state, GenerateKey(ALICE, MBED, K1, SIGNING), GenerateKey(BOB, MBED, K1, SIGNING))
    assert statuses == ["Success", "Success"]
    handles = {entry.handle for entry in state.mappings.values()}
    assert len(handles) == 2


def test_key_name_is_unique_across_providers_of_a_tenant(state: State) -> None:
    _, statuses = run(state, GenerateKey(ALICE, MBED, K1, SIGNING), GenerateKey(ALICE, ProviderId.PKCS11, K1, SIGNING))
    assert statuses == ["Success", "PsaErrorAlreadyExists"]


def test_a_key_is_found_only_through_its_provider(state: State) -> None:
    state, _ = run(state, GenerateKey(ALICE, MBED, K1, SIGNING))
    assert step(state, SignHash(ALICE, ProviderId.PKCS11, K1))[1].status == "PsaErrorDoesNotExist"


def test_export_needs_the_export_flag_and_a_provider_that_exports(state: State) -> None:
    state, _ = run(state, GenerateKey(ALICE, MBED, K1, SIGNING), GenerateKey(BOB, MBED, K1, EXPORTABLE))
    assert step(state, ExportKey(ALICE, MBED, K1))[1].status == "PsaErrorNotPermitted"
    exported = step(state, ExportKey(BOB, MBED, K1))[1]
    assert exported.status == "Success"
    assert [r.recipient for r in exported.effects.releases] == [BOB]
    assert step(state, ExportKey(BOB, ProviderId.TPM, K1))[1].status == "PsaErrorNotSupported"
    assert step(state, ExportPublicKey(ALICE, MBED, K1))[1].status == "Success"


def test_usage_flags_and_algorithms_decide_key_use(state: State) -> None:
    state, _ = run(state, GenerateKey(ALICE, MBED, K1, SIGNING))
    assert step(state, AsymmetricEncrypt(ALICE, MBED, K1))[1].status == "PsaErrorNotPermitted"
    assert step(state, VerifyHash(ALICE, MBED, K1, authentic=False))[1].status == "PsaErrorInvalidSignature"
    assert step(state, VerifyHash(ALICE, MBED, K1))[1].status == "Success"


def test_dispatch_and_authentication_checks_come_first(state: State) -> None:
    assert step(state, SignHash(None, MBED, K1))[1].status == "NotAuthenticated"
    assert step(state, SignHash(ALICE, ProviderId.CORE, K1))[1].status == "PsaErrorNotSupported"
    assert step(state, SignHash(Tenant("peer", "alice"), MBED, K1))[1].status == "AuthenticatorNotRegistered"
    only_mbed = fresh("no-idp", providers=(MBED,))
    assert step(only_mbed, SignHash(ALICE, ProviderId.TPM, K1))[1].status == "ProviderNotRegistered"
    assert step(state, ImportKey(ALICE, ProviderId.TPM, K1, SIGNING))[1].status == "PsaErrorNotSupported"


PUBLIC_ECC = KeyAttributes(KeyKind.ECC_PUBLIC, frozenset({Usage.VERIFY_HASH}))
ECDH = KeyAttributes(KeyKind.ECDH_PAIR, frozenset({Usage.DERIVE}))
TAKEN = "PsaErrorAlreadyExists"


@pytest.mark.parametrize(
    ("provider", "free", "taken"),
    [
        # Mbed Crypto and Tpm: the name first, then is_public_key(); Pkcs11: is_public_key() before the name.
        (MBED, "PsaErrorInvalidArgument", TAKEN),
        (ProviderId.PKCS11, "PsaErrorInvalidArgument", "PsaErrorInvalidArgument"),
        (ProviderId.TPM, "PsaErrorInvalidArgument", TAKEN),
    ],
)
def test_generating_a_public_key_is_an_invalid_argument_checked_where_parsec_checks_it(
    state: State, provider: ProviderId, free: str, taken: str
) -> None:
    assert step(state, GenerateKey(ALICE, provider, K1, PUBLIC_ECC))[1].status == free
    held, _ = run(state, GenerateKey(ALICE, MBED, K1, SIGNING))
    assert step(held, GenerateKey(ALICE, provider, K1, PUBLIC_ECC))[1].status == taken


@pytest.mark.parametrize(
    ("operation", "free", "taken"),
    [
        (GenerateKey(ALICE, ProviderId.PKCS11, K1, ECDH), "PsaErrorNotSupported", TAKEN),
        (GenerateKey(ALICE, ProviderId.TPM, K1, ECDH), "PsaErrorNotSupported", TAKEN),
        (ImportKey(ALICE, ProviderId.PKCS11, K1, SIGNING), "PsaErrorNotSupported", TAKEN),
        # Tpm psa_import_key_internal: public keys only, before the name check.
        (ImportKey(ALICE, ProviderId.TPM, K1, SIGNING), "PsaErrorNotSupported", "PsaErrorNotSupported"),
        (ImportKey(ALICE, ProviderId.TPM, K1, PUBLIC_ECC), "Success", TAKEN),
        (ImportKey(ALICE, MBED, K1, ECDH), "Success", TAKEN),
    ],
)
def test_unsupported_kinds_and_taken_names_answer_in_parsecs_order(
    state: State, operation: GenerateKey | ImportKey, free: str, taken: str
) -> None:
    assert step(state, operation)[1].status == free
    held, _ = run(state, GenerateKey(ALICE, MBED, K1, SIGNING))
    assert step(held, operation)[1].status == taken


def test_tpm_lists_parsecs_twelve_opcodes_with_key_attestation(state: State) -> None:
    listed = step(state, ListOpcodes(None, ProviderId.TPM))[1].result
    assert listed is not None and len(listed) == 12
    assert {"AttestKey", "PrepareKeyAttestation"} <= set(listed)
    for provider in (MBED, ProviderId.PKCS11):
        others = step(state, ListOpcodes(None, provider))[1].result
        assert others is not None and not {"AttestKey", "PrepareKeyAttestation"} & set(others)


def test_key_attestation_statuses(state: State) -> None:
    """Parsec's key_attestation.rs: the default attesting key only, checked first; the caller's own TPM key; a
    credential sealed to another key's name fails the TPM's integrity check."""
    tpm = ProviderId.TPM
    public = KeyAttributes(KeyKind.ECC_PUBLIC, frozenset({Usage.VERIFY_HASH}))
    held, _ = run(
        state,
        GenerateKey(ALICE, tpm, K1, SIGNING),
        ImportKey(ALICE, tpm, KeyName("k2"), public),
        GenerateKey(ALICE, MBED, KeyName("k2"), SIGNING),
    )
    _, statuses = run(
        held,
        PrepareKeyAttestation(ALICE, tpm, K1),
        AttestKey(ALICE, tpm, K1),
        AttestKey(ALICE, tpm, K1, authentic=False),
        PrepareKeyAttestation(BOB, tpm, K1),  # another tenant's key name
        AttestKey(BOB, tpm, K1),
        PrepareKeyAttestation(ALICE, tpm, K1, default_attesting_key=False),
        AttestKey(ALICE, tpm, KeyName("absent"), default_attesting_key=False),  # checked before the key
        PrepareKeyAttestation(ALICE, tpm, KeyName("k2")),  # a public key has a name and a public area
        AttestKey(ALICE, tpm, KeyName("k2")),  # but cannot activate a credential
        PrepareKeyAttestation(ALICE, MBED, KeyName("k2")),  # TPM only
        AttestKey(None, tpm, K1),
    )
    assert statuses == [
        "Success",
        "Success",
        "PsaErrorDataCorrupt",
        "PsaErrorDoesNotExist",
        "PsaErrorDoesNotExist",
        "PsaErrorNotSupported",
        "PsaErrorNotSupported",
        "Success",
        "PsaErrorInvalidArgument",
        "PsaErrorNotSupported",
        "NotAuthenticated",
    ]
    outcome = step(held, PrepareKeyAttestation(BOB, tpm, K1))[1]
    assert outcome.effects.namespace == BOB and outcome.effects.touched == frozenset()  # Alice's key untouched


def test_admin_operations(state: State) -> None:
    state, _ = run(state, GenerateKey(BOB, MBED, K1, SIGNING), GenerateKey(ALICE, MBED, K1, SIGNING))
    assert step(state, ListClients(None))[1].status == "NotAuthenticated"
    assert step(state, ListClients(ALICE))[1].status == "AdminOperation"
    assert step(state, DeleteClient(ALICE, "bob"))[1].status == "AdminOperation"
    assert step(state, ListClients(ADMIN))[1].result == ("alice", "bob")
    emptied, outcome = step(state, DeleteClient(ADMIN, "bob"))
    assert outcome.status == "Success"
    assert [identity.tenant for identity in emptied.mappings] == [ALICE]
    assert step(emptied, DeleteClient(ADMIN, "nobody"))[1].status == "Success"


def test_list_keys_lists_only_the_callers_keys_sorted(state: State) -> None:
    state, _ = run(
        state,
        GenerateKey(ALICE, ProviderId.PKCS11, KeyName("zeta"), SIGNING),
        GenerateKey(ALICE, MBED, KeyName("alpha"), SIGNING),
        GenerateKey(BOB, MBED, KeyName("beta"), SIGNING),
    )
    assert step(state, ListKeys(ALICE))[1].result == (("alpha", 1), ("zeta", 2))
    assert step(state, ListKeys(None))[1].status == "NotAuthenticated"


def test_stateless_requests(state: State) -> None:
    assert step(state, Ping(None))[1].result == (1, 0)
    assert step(state, ListProviders(None))[1].result == (MBED, ProviderId.PKCS11, ProviderId.TPM, ProviderId.CORE)
    assert step(state, ListOpcodes(None, ProviderId.CORE))[1].status == "Success"
    assert step(state, GenerateRandom(None, MBED, 1 << 21))[1].status == "ResponseTooLarge"
    assert step(state, HashCompare(None, ProviderId.PKCS11, True))[1].status == "PsaErrorNotSupported"


def test_reload_keeps_every_key_and_a_stopped_service_does_not_answer(state: State) -> None:
    state, _ = run(state, GenerateKey(ALICE, MBED, K1, SIGNING))
    reloaded, _ = step(state, Reload())
    assert reloaded.mappings == state.mappings and reloaded.provider_keys == state.provider_keys
    stopped, _ = step(reloaded, Shutdown())
    assert step(stopped, SignHash(ALICE, MBED, K1))[1].status is None
    with pytest.raises(NotEnabled):
        step(stopped, Reload())
    restarted, _ = step(stopped, Restart())
    assert restarted.lifecycle is Lifecycle.RUNNING
    assert step(restarted, SignHash(ALICE, MBED, K1))[1].status == "Success"


def test_a_crash_between_the_two_writes_leaves_no_orphan_after_restart(state: State) -> None:
    crashed, _ = step(state, CrashAfterProviderWrite(GenerateKey(ALICE, MBED, K1, SIGNING)))
    assert crashed.lifecycle is Lifecycle.CRASHED and crashed.provider_keys and not crashed.mappings
    restarted, _ = step(crashed, Restart())
    assert not restarted.provider_keys
    assert step(restarted, GenerateKey(ALICE, MBED, K1, SIGNING))[1].status == "Success"


def test_a_crash_between_mapping_removal_and_key_destruction_is_recovered(state: State) -> None:
    state, _ = run(state, GenerateKey(ALICE, MBED, K1, SIGNING))
    crashed, _ = step(state, CrashAfterMappingRemoval(DestroyKey(ALICE, MBED, K1)))
    assert crashed.provider_keys and not crashed.mappings
    restarted, _ = step(crashed, Restart())
    assert not restarted.provider_keys


def test_a_crash_needs_a_request_that_reaches_the_write(state: State) -> None:
    with pytest.raises(NotEnabled):
        step(state, CrashAfterMappingRemoval(DestroyKey(ALICE, MBED, K1)))


def test_enabled_is_the_precondition_of_step(state: State) -> None:
    assert enabled(state, Reload()) and not enabled(state, Restart())
    assert not enabled(state, CrashAfterProviderWrite(GenerateKey(None, MBED, K1, SIGNING)))
