"""The Core provider: discovery answers, ListKeys per tenant, and the admin operations (facts §4.5–4.6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from refimpl.config import parse_config
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.operations import (
    DeleteClient,
    GenerateKey,
    ListAuthenticators,
    ListClients,
    ListKeys,
    ListOpcodes,
    ListProviders,
    SignHash,
)
from refimpl.providers.core.provider import service_version
from refimpl.psa import types as t
from refimpl.service import Pipeline, build_pipeline
from refimpl.wire.codec import decode_result
from tests.refimpl.pipeline import ask, config_document, in_process_pipeline

P256 = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1),
    256,
    t.KeyPolicy(t.UsageFlags(sign_hash=True, sign_message=True), t.Ecdsa(t.Hash.SHA_256)),
)
"""sign_message with sign_hash: the protocol converter implies it (as psa-crypto's setter), so ListKeys reports it."""
CORE_LISTED = {Opcode.PING, Opcode.LIST_PROVIDERS, Opcode.LIST_OPCODES, Opcode.LIST_AUTHENTICATORS, Opcode.LIST_KEYS}


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with in_process_pipeline(tmp_path) as built:
        yield built


def result(pipeline: Pipeline, operation: Any, app: str | None = None, **kwargs: Any) -> Any:
    response = ask(pipeline, operation, app, **kwargs)
    assert response.status is Status.SUCCESS, response.status
    return decode_result(Opcode(response.header.opcode), response.body)


def test_list_providers_puts_core_last_with_the_service_version(pipeline: Pipeline) -> None:
    providers = result(pipeline, ListProviders()).providers
    assert [info.id for info in providers] == [ProviderId.MBED_CRYPTO, ProviderId.CORE]
    core = providers[-1]
    assert core.uuid == "47049873-2a43-4845-9d72-831eab668784"
    assert (core.version_maj, core.version_min, core.version_rev) == service_version()
    assert core.vendor == ""


def test_list_opcodes(pipeline: Pipeline) -> None:
    assert result(pipeline, ListOpcodes(ProviderId.CORE)).opcodes == CORE_LISTED  # admin opcodes not listed
    software = result(pipeline, ListOpcodes(ProviderId.MBED_CRYPTO)).opcodes
    assert software == pipeline.providers[0].opcodes and Opcode.PSA_SIGN_HASH in software
    assert ask(pipeline, ListOpcodes(ProviderId.TPM)).status is Status.PROVIDER_NOT_REGISTERED


def test_list_authenticators_describes_the_configured_one(pipeline: Pipeline) -> None:
    [info] = result(pipeline, ListAuthenticators()).authenticators
    assert info.id == AuthType.DIRECT


@pytest.mark.threat("A1-S-1")
def test_list_keys_shows_only_the_callers_keys(pipeline: Pipeline) -> None:
    for app, name in (("alice", "a1"), ("alice", "a2"), ("bob", "a1")):
        assert ask(pipeline, GenerateKey(name, P256), app).status is Status.SUCCESS
    alice = result(pipeline, ListKeys(), "alice").keys
    assert sorted(key.name for key in alice) == ["a1", "a2"]
    assert all(key.attributes == P256 and key.provider_id == ProviderId.MBED_CRYPTO for key in alice)
    assert [key.name for key in result(pipeline, ListKeys(), "bob").keys] == ["a1"]
    assert result(pipeline, ListKeys(), "carol").keys == ()


def test_list_clients_is_sorted_and_deduplicated(pipeline: Pipeline) -> None:
    for app, name in (("zed", "k1"), ("amy", "k1"), ("zed", "k2")):
        ask(pipeline, GenerateKey(name, P256), app)
    assert result(pipeline, ListClients(), "admin").clients == ("amy", "zed")


def test_delete_client_removes_every_key_of_that_client_only(pipeline: Pipeline) -> None:
    for app, name in (("victim", "k1"), ("victim", "k2"), ("bystander", "k1")):
        ask(pipeline, GenerateKey(name, P256), app)
    result(pipeline, DeleteClient("victim"), "admin")
    assert result(pipeline, ListKeys(), "victim").keys == ()
    assert ask(pipeline, SignHash("k1", t.Ecdsa(t.Hash.SHA_256), b"\1" * 32), "victim").status is (
        Status.PSA_ERROR_DOES_NOT_EXIST
    )
    assert ask(pipeline, SignHash("k1", t.Ecdsa(t.Hash.SHA_256), b"\1" * 32), "bystander").status is Status.SUCCESS
    assert result(pipeline, ListClients(), "admin").clients == ("bystander",)
    result(pipeline, DeleteClient("nobody"), "admin")  # an unknown client is Success, as in Parsec


def test_two_providers_of_one_type_the_later_serves(tmp_path: Path) -> None:
    """Parsec accepts two providers of one type under different names; its dispatcher map keeps the later one."""
    document = config_document(tmp_path)
    document["provider"] = [
        {
            "provider_type": "MbedCrypto",
            "name": "first",
            "key_info_manager": "kim",
            "key_store_path": str(tmp_path / "k1"),
        },
        {
            "provider_type": "MbedCrypto",
            "name": "second",
            "key_info_manager": "kim",
            "key_store_path": str(tmp_path / "k2"),
        },
    ]
    pipeline = build_pipeline(parse_config(document), allow_activation=False)
    try:
        providers = result(pipeline, ListProviders()).providers
        assert [info.id for info in providers] == [ProviderId.MBED_CRYPTO, ProviderId.MBED_CRYPTO, ProviderId.CORE]
        assert ask(pipeline, GenerateKey("k", P256), "app").status is Status.SUCCESS
        assert [k.key_name for k, _ in pipeline.key_info_managers[0].keys("second")] == ["k"]
    finally:
        pipeline.stop()
