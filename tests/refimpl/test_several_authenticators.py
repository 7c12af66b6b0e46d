"""Several authenticators in one pipeline (`[[authenticator]]`): one namespace of applications per authenticator.

The issue's item 4: a request picks its authenticator by its header's auth type; the same application name under
Direct and under UnixPeerCredentials owns different keys; ListAuthenticators lists every configured authenticator
in config order; admins are per authenticator, and ListClients / DeleteClient act in the admin's own namespace.
Requests go through the real front end, back end, software provider and SQLite store, without a socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from refimpl.config import parse_config
from refimpl.errors import ConfigError
from refimpl.ids import AuthType, Opcode, Status
from refimpl.operations import (
    DeleteClient,
    ExportPublicKey,
    GenerateKey,
    ListAuthenticators,
    ListClients,
    ListKeys,
    Ping,
)
from refimpl.psa import types as t
from refimpl.service import Pipeline, build_pipeline
from refimpl.wire.codec import decode_result
from tests.refimpl.pipeline import ask, config_document, in_process_pipeline

UDS = AuthType.UNIX_PEER_CREDENTIALS
P256 = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True), t.Ecdsa(t.Hash.SHA_256))
)
AUTHENTICATORS = [
    {"auth_type": "UnixPeerCredentials", "admins": [{"name": "0"}]},
    {"auth_type": "Direct", "admins": [{"name": "0"}, {"name": "direct-admin"}]},
]


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with in_process_pipeline(tmp_path, AUTHENTICATORS) as built:
        yield built


def result(pipeline: Pipeline, operation: Any, app: str | None = None, **kwargs: Any) -> Any:
    response = ask(pipeline, operation, app, **kwargs)
    assert response.status is Status.SUCCESS, response.status
    return decode_result(Opcode(response.header.opcode), response.body)


def names(keys: Any) -> list[str]:
    return sorted(key.name for key in keys)


def test_every_authenticator_is_listed_in_config_order(pipeline: Pipeline) -> None:
    listed = result(pipeline, ListAuthenticators()).authenticators
    assert [info.id for info in listed] == [UDS, AuthType.DIRECT]
    assert ask(pipeline, Ping(), "a", auth_type=AuthType.JWT_SVID).status is Status.AUTHENTICATOR_NOT_REGISTERED
    assert ask(pipeline, Ping(), "a", auth_type=AuthType.JWT).status is Status.AUTHENTICATOR_NOT_REGISTERED
    assert result(pipeline, Ping(), "0", auth_type=UDS).wire_protocol_version_maj == 1
    assert result(pipeline, Ping(), "0").wire_protocol_version_maj == 1


@pytest.mark.threat("A1-S-1")
def test_the_same_name_under_two_authenticators_owns_different_keys(pipeline: Pipeline) -> None:
    """Direct lets anyone claim the name "0"; it still never reaches the keys of the Unix user 0."""
    assert ask(pipeline, GenerateKey("k", P256), "0", auth_type=UDS).status is Status.SUCCESS
    assert result(pipeline, ListKeys(), "0").keys == ()
    assert ask(pipeline, ExportPublicKey("k"), "0").status is Status.PSA_ERROR_DOES_NOT_EXIST
    assert ask(pipeline, GenerateKey("k", P256), "0").status is Status.SUCCESS  # not AlreadyExists
    peer_key = result(pipeline, ExportPublicKey("k"), "0", auth_type=UDS).data
    assert result(pipeline, ExportPublicKey("k"), "0").data != peer_key
    assert names(result(pipeline, ListKeys(), "0", auth_type=UDS).keys) == ["k"]
    stored = {
        (key.application.authenticator_id, key.application.name)
        for key, _ in pipeline.key_info_managers[0].keys(pipeline.providers[0].name)
    }
    assert stored == {(int(UDS), "0"), (int(AuthType.DIRECT), "0")}


def test_admins_are_per_authenticator(pipeline: Pipeline) -> None:
    assert ask(pipeline, ListClients(), "direct-admin").status is Status.SUCCESS
    assert ask(pipeline, ListClients(), "0", auth_type=UDS).status is Status.SUCCESS
    assert ask(pipeline, ListClients(), "1000", auth_type=UDS).status is Status.ADMIN_OPERATION
    assert ask(pipeline, ListClients(), "1000").status is Status.ADMIN_OPERATION  # "1000" is no admin of Direct
    assert ask(pipeline, ListClients()).status is Status.NOT_AUTHENTICATED


@pytest.mark.threat("A1-S-1")
def test_list_and_delete_clients_stay_in_the_admins_namespace(pipeline: Pipeline) -> None:
    for app, auth_type in (("1000", UDS), ("1000", AuthType.DIRECT), ("alice", AuthType.DIRECT)):
        assert ask(pipeline, GenerateKey("k", P256), app, auth_type=auth_type).status is Status.SUCCESS
    assert result(pipeline, ListClients(), "0", auth_type=UDS).clients == ("1000",)
    assert result(pipeline, ListClients(), "direct-admin").clients == ("1000", "alice")

    result(pipeline, DeleteClient("1000"), "direct-admin")  # the Direct application "1000", not the Unix user
    assert result(pipeline, ListKeys(), "1000").keys == ()
    assert names(result(pipeline, ListKeys(), "1000", auth_type=UDS).keys) == ["k"]
    assert result(pipeline, ListClients(), "direct-admin").clients == ("alice",)

    result(pipeline, DeleteClient("1000"), "0", auth_type=UDS)
    assert result(pipeline, ListKeys(), "1000", auth_type=UDS).keys == ()
    assert result(pipeline, ListClients(), "0", auth_type=UDS).clients == ()
    assert names(result(pipeline, ListKeys(), "alice").keys) == ["k"]


def test_keys_made_under_parsecs_single_table_stay_usable_under_an_array(tmp_path: Path) -> None:
    """Upgrading a config from one `[authenticator]` to `[[authenticator]]` keeps every key where it was."""
    with in_process_pipeline(tmp_path, {"auth_type": "Direct"}) as single:
        assert ask(single, GenerateKey("old", P256), "alice").status is Status.SUCCESS
        public = result(single, ExportPublicKey("old"), "alice").data
    with in_process_pipeline(tmp_path, AUTHENTICATORS) as several:
        assert result(several, ExportPublicKey("old"), "alice").data == public
        assert result(several, ListKeys(), "0", auth_type=UDS).keys == ()


def test_a_failing_authenticator_releases_those_built_before_it(tmp_path: Path) -> None:
    """The second table's bad endpoint stops the start with its own key; nothing is left running."""
    document = config_document(
        tmp_path,
        [
            {"auth_type": "Direct"},
            {"auth_type": "JwtSvid", "workload_endpoint": "https://agent.example"},
        ],
    )
    with pytest.raises(ConfigError) as caught:
        build_pipeline(parse_config(document), allow_activation=False)
    assert caught.value.key == "authenticator[1] (JwtSvid).workload_endpoint"
    assert not (tmp_path / "p.sock").exists()
