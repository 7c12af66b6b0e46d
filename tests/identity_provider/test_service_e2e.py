"""End to end: the reference service with `auth_type = "JwtSvid"`, tenants with distinct SPIFFE IDs, real peers.

The service is the real pipeline (`refimpl.service.build_pipeline` from a Parsec-schema config.toml: listener,
thread pool, front end, JwtSvid authenticator, dispatcher, software provider, SQLite key info manager) on a real
Unix socket, run in this process so that a test can wait on the authenticator's bundle watcher itself (the bundle
arrived, the bundle was dropped) instead of on time; clients are `BasicClient`s with JWT-SVIDs from the identity
provider, some of them in processes of other Unix users. The same service as a `parsec-tm serve` process, on every
provider kind and beside other authenticators, is tested in tests/e2e (test_normal, test_multitenancy,
test_jwt_svid, test_conformance).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from refimpl.authenticators.jwt_svid import JwtSvidAuthenticator
from refimpl.client import BasicClient, ClientError, NoAuth
from refimpl.client.jwt_svid import JwtSvidAuthentication
from refimpl.client.tool import ecc_key_attributes, sign, verify
from refimpl.config import load_config
from refimpl.ids import AuthType, Status
from refimpl.service import Pipeline, build_pipeline
from tests.fixtures.service import software_provider_table, toml_value
from tests.identity_provider.parts import (
    OTHER_UID,
    SERVICE_ID,
    TENANT_A,
    TENANT_B,
    WAIT,
    FixedToken,
    captured_logs,
    fetch_token,
    messages,
    run_as,
    running_idp,
)

pytestmark = pytest.mark.e2e


def render_config(directory: Path, socket_path: Path, workload_endpoint: str) -> str:
    provider = software_provider_table(directory)
    return "\n".join(
        [
            "[core_settings]",
            "allow_root = true",
            "thread_pool_size = 4",
            'log_level = "info"',
            "",
            "[listener]",
            'listener_type = "DomainSocket"',
            "timeout = 2000",
            f"socket_path = {toml_value(str(socket_path))}",
            "",
            "[authenticator]",
            'auth_type = "JwtSvid"',
            f"workload_endpoint = {toml_value(workload_endpoint)}",
            f"admins = [{{ name = {toml_value(SERVICE_ID)} }}]",
            "",
            "[[key_manager]]",
            'name = "kim"',
            'manager_type = "SQLite"',
            f"sqlite_db_path = {toml_value(str(directory / 'mappings.sqlite3'))}",
            "",
            "[[provider]]",
            'key_info_manager = "kim"',
            *(f"{key} = {toml_value(value)}" for key, value in provider.items()),
            "",
        ]
    )


@contextmanager
def running_service(directory: Path, socket_path: Path, workload_endpoint: str) -> Iterator[Pipeline]:
    config_path = directory / "config.toml"
    config_path.write_text(render_config(directory, socket_path, workload_endpoint))
    pipeline = build_pipeline(load_config(config_path), allow_activation=False)
    pipeline.start()
    try:
        yield pipeline
    finally:
        pipeline.stop()  # closes the authenticators too


def jwt_authenticator(pipeline: Pipeline) -> JwtSvidAuthenticator:
    authenticator = pipeline.front_end.authenticators[AuthType.JWT_SVID]
    assert isinstance(authenticator, JwtSvidAuthenticator)
    return authenticator


@pytest.fixture
def service(socket_dir: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(service endpoint, Workload API endpoint) of a running service whose identity provider is up."""
    with (
        running_idp(socket_dir / "agent.sock") as idp,
        running_service(tmp_path, socket_dir / "parsec.sock", idp.endpoint) as pipeline,
    ):
        if not jwt_authenticator(pipeline).watcher.wait_for(lambda bundles: bundles is not None, WAIT):
            pytest.fail(f"the service got no JWT bundle from {idp.endpoint} within {WAIT} s")
        yield f"unix:{socket_dir / 'parsec.sock'}", idp.endpoint


def tenant(service: tuple[str, str], spiffe_id: str) -> BasicClient:
    endpoint, workload_endpoint = service
    return BasicClient(endpoint, auth=JwtSvidAuthentication(workload_endpoint, spiffe_id))


def test_tenants_are_their_spiffe_ids_and_their_keys_are_apart(service: tuple[str, str]) -> None:
    a, b = tenant(service, TENANT_A), tenant(service, TENANT_B)
    assert [info.id for info in a.list_authenticators()] == [AuthType.JWT_SVID]
    a.psa_generate_key("signing", ecc_key_attributes())
    signature = sign(a, "signing", b"hello")
    verify(a, "signing", b"hello", signature)
    assert [key.name for key in a.list_keys()] == ["signing"]
    assert b.list_keys() == []
    with pytest.raises(ClientError) as missing:
        b.psa_export_public_key("signing")
    assert missing.value.status == Status.PSA_ERROR_DOES_NOT_EXIST
    b.psa_generate_key("signing", ecc_key_attributes())  # the same name, another tenant: another key
    assert a.psa_export_public_key("signing") != b.psa_export_public_key("signing")


def test_the_admin_is_named_by_its_spiffe_id(service: tuple[str, str]) -> None:
    tenant(service, TENANT_A).psa_generate_key("k", ecc_key_attributes())
    assert TENANT_A in tenant(service, SERVICE_ID).list_clients()
    with pytest.raises(ClientError) as refused:
        tenant(service, TENANT_B).list_clients()
    assert refused.value.status == Status.ADMIN_OPERATION


@pytest.mark.threat("A2-I-2", "M-1")
def test_on_the_wire_a_bad_token_is_an_authentication_error_and_bad_utf8_an_invalid_encoding(
    service: tuple[str, str],
) -> None:
    endpoint, workload_endpoint = service
    token = fetch_token(workload_endpoint, TENANT_A)
    for bad in (token[:-5], token.replace(".", "..", 1), ""):
        with pytest.raises(ClientError) as refused:
            BasicClient(endpoint, auth=FixedToken(bad)).list_keys()
        assert refused.value.status == Status.AUTHENTICATION_ERROR
    with pytest.raises(ClientError) as undecodable:
        BasicClient(endpoint, auth=FixedToken(b"\xc3\x28")).list_keys()
    assert undecodable.value.status == Status.INVALID_ENCODING


OTHER_USER_CLIENT = """
import json, sys
from refimpl.client import BasicClient, ClientError, NoAuth
from refimpl.ids import AuthType

class Fixed:
    auth_type = AuthType.JWT_SVID
    def __init__(self, token):
        self.token = token.encode()
    def auth_bytes(self):
        return self.token

endpoint, tokens = sys.argv[1], json.loads(sys.argv[2])
outcomes = []
for token in tokens:
    try:
        outcomes.append(sorted(key.name for key in BasicClient(endpoint, auth=Fixed(token)).list_keys()))
    except ClientError as error:
        outcomes.append(error.status.parsec_name)
print(json.dumps(outcomes))
"""


def as_other_user(endpoint: str, tokens: list[str]) -> list[object]:
    completed = run_as(OTHER_UID, OTHER_USER_CLIENT, endpoint, json.dumps(tokens))
    assert completed.returncode == 0, completed.stderr
    outcomes: list[object] = json.loads(completed.stdout)
    return outcomes


@pytest.mark.threat("A1-S-1", "U-2")
def test_a_stolen_token_opens_the_owners_keys_from_another_unix_user(service: tuple[str, str]) -> None:
    """U-2, stated: a token is a bearer credential; the thief's different uid does not stop it."""
    endpoint, workload_endpoint = service
    tenant(service, TENANT_A).psa_generate_key("secret-key", ecc_key_attributes())
    stolen = fetch_token(workload_endpoint, TENANT_A)
    assert as_other_user(endpoint, [stolen]) == [["secret-key"]]


@pytest.mark.threat("A1-S-2", "M-2")
def test_guessing_from_one_unix_user_is_cut_off_without_touching_the_others(service: tuple[str, str]) -> None:
    endpoint, workload_endpoint = service
    tenant(service, TENANT_A).psa_generate_key("k", ecc_key_attributes())
    valid = fetch_token(workload_endpoint, TENANT_A)
    header, payload, signature = valid.split(".")
    guesses = [f"{header}.{payload}.{signature[:-4]}{n:04d}" for n in range(12)]
    outcomes = as_other_user(endpoint, [*guesses, valid])
    assert outcomes == ["AuthenticationError"] * 13, "after 5 failures even the right token gets no answer"
    assert [key.name for key in BasicClient(endpoint, auth=FixedToken(valid)).list_keys()] == ["k"]


@pytest.mark.threat("A10-D-1", "M-3")
def test_the_service_keeps_serving_while_the_workload_api_is_down(socket_dir: Path, tmp_path: Path) -> None:
    agent, service_socket = socket_dir / "agent.sock", socket_dir / "parsec.sock"
    endpoint = f"unix:{service_socket}"
    with captured_logs() as records, running_service(tmp_path, service_socket, f"unix://{agent}") as pipeline:
        watcher = jwt_authenticator(pipeline).watcher
        with running_idp(agent) as idp:
            assert watcher.wait_for(lambda bundles: bundles is not None, WAIT)
            assert tenant((endpoint, idp.endpoint), TENANT_A).list_keys() == []
            stale = fetch_token(idp.endpoint, TENANT_A)

        assert watcher.wait_for(lambda bundles: bundles is None, WAIT)
        with pytest.raises(ClientError) as refused:
            BasicClient(endpoint, auth=FixedToken(stale), timeout=WAIT).list_keys()
        assert refused.value.status == Status.AUTHENTICATION_ERROR
        anonymous = BasicClient(endpoint, auth=NoAuth(), timeout=WAIT)
        assert anonymous.ping() == (1, 0)
        assert anonymous.list_providers()
        assert len(anonymous.psa_generate_random(16)) == 16

        with running_idp(agent) as back:
            assert watcher.wait_for(lambda bundles: bundles is not None, WAIT)
            assert tenant((endpoint, back.endpoint), TENANT_A).list_keys() == []
    errors = messages(records, logging.ERROR)
    assert any("is unavailable" in message and "JwtSvid requests are refused" in message for message in errors)
