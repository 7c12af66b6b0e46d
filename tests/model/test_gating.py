"""Attacker capabilities are transitions gated by the seed's IDs: open exactly when their blockers are removed."""

from __future__ import annotations

import pytest

from dataflow.catalogue import load_catalogue
from model import KeyAttributes, KeyKind, KeyName, NotEnabled, ProviderId, Tenant, Usage, seed_mitigations
from model import initial_state as fresh
from model.nouns import VARIANTS, Handle
from model.operations import (
    ClaimIdentity,
    EavesdropResponse,
    ExportKey,
    GenerateKey,
    ListKeys,
    Operation,
    PresentCredential,
    StealToken,
    TamperInTransit,
    WriteMapping,
)
from model.step import step
from model.transitions import REGISTRY

ALICE = Tenant("direct", "alice")
MALLORY = Tenant("direct", "mallory")
K1 = KeyName("k1")
MBED = ProviderId.MBED_CRYPTO
EXPORTABLE = KeyAttributes(KeyKind.ECC_SIGN_PAIR, frozenset({Usage.EXPORT}))


def test_every_id_the_model_names_is_in_the_catalogue() -> None:
    catalogue = load_catalogue()
    named = {i for spec in REGISTRY.values() for i in (*spec.blocked_by, *spec.realises)}
    named |= {i for spec in REGISTRY.values() for v in VARIANTS for i in spec.blockers(v)}
    assert named, "the model names no seed ID"
    assert sorted(i for i in named if i not in catalogue) == []
    assert all(catalogue.threat(t) for spec in REGISTRY.values() for t in spec.realises)


def test_seed_mitigations_are_every_m_and_o_mitigation_and_assumption() -> None:
    catalogue = load_catalogue()
    expected = {m.id for m in catalogue.mitigations if m.kind in ("M", "O")} | {a.id for a in catalogue.assumptions}
    assert seed_mitigations() == expected


GATED: list[type[Operation]] = sorted((c for c, spec in REGISTRY.items() if spec.blocked_by), key=str)


@pytest.mark.parametrize("operation", GATED, ids=[c.__name__ for c in GATED])
def test_a_capability_is_open_exactly_when_all_its_blockers_are_removed(operation: type) -> None:
    spec = REGISTRY[operation]
    for variant in spec.variants:
        blockers = spec.blockers(variant)
        assert not spec.is_open(variant, seed_mitigations())
        assert spec.is_open(variant, seed_mitigations() - set(blockers))
        for kept in blockers:
            assert not spec.is_open(variant, seed_mitigations() - (set(blockers) - {kept}))


@pytest.mark.threat("A1-S-1", "O-10")
def test_no_idp_attackers_need_o10_removed() -> None:
    claim = REGISTRY[ClaimIdentity]
    assert claim.blockers("no-idp") == ("O-10",)
    assert REGISTRY[TamperInTransit].blockers("no-idp") == ("M-3", "O-10")
    assert REGISTRY[TamperInTransit].blockers("with-idp") == ("M-3",)


@pytest.mark.threat("A1-S-1", "O-10")
def test_without_o10_an_outsider_claims_any_name() -> None:
    state, _ = step(fresh("no-idp"), GenerateKey(ALICE, MBED, K1, EXPORTABLE))
    attack = ClaimIdentity(MALLORY, ExportKey(ALICE, MBED, K1))
    with pytest.raises(NotEnabled):
        step(state, attack)
    _, outcome = step(state, attack, seed_mitigations() - {"O-10"})
    assert outcome.status == "Success"
    assert outcome.effects.actor == MALLORY and outcome.effects.namespace == ALICE
    assert [r.recipient for r in outcome.effects.releases] == [MALLORY]


@pytest.mark.threat("A1-S-1", "U-2", "ASUM-5")
def test_with_an_idp_a_credential_is_accepted_only_when_held() -> None:
    alice, mallory = Tenant("jwt-svid", "alice"), Tenant("jwt-svid", "mallory")
    state = fresh("with-idp")
    assert step(state, PresentCredential(mallory, ListKeys(alice)))[1].status == "AuthenticationError"
    stolen, _ = step(state, StealToken(mallory, alice), seed_mitigations() - {"ASUM-5"})
    assert step(stolen, PresentCredential(mallory, ListKeys(alice)))[1].status == "Success"


@pytest.mark.threat("A2-I-1", "M-3")
def test_an_eavesdropper_receives_exported_material() -> None:
    state, _ = step(fresh("with-idp"), GenerateKey(Tenant("jwt-svid", "alice"), MBED, K1, EXPORTABLE))
    attack = EavesdropResponse(Tenant("jwt-svid", "mallory"), ExportKey(Tenant("jwt-svid", "alice"), MBED, K1))
    _, outcome = step(state, attack, seed_mitigations() - {"M-3"})
    assert {r.recipient.name for r in outcome.effects.releases if r.recipient} == {"alice", "mallory"}


@pytest.mark.threat("A6-S-1", "O-3")
def test_a_written_mapping_points_a_name_at_another_tenants_key() -> None:
    state, _ = step(fresh("no-idp"), GenerateKey(ALICE, MBED, K1, EXPORTABLE))
    handle = Handle(MBED, 1)
    mapped, _ = step(state, WriteMapping(MALLORY, MALLORY, K1, MBED, handle), seed_mitigations() - {"O-3"})
    _, outcome = step(mapped, ExportKey(MALLORY, MBED, K1), seed_mitigations() - {"O-3"})
    assert outcome.status == "Success" and outcome.effects.touched == {handle}
