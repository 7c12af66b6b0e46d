"""A bad SIGHUP reload does not take the service down: a real `parsec-tm serve` process, real signals.

Parsec exits when the re-read config is invalid; this service (as nginx and HAProxy) logs one ERROR naming the
key, keeps serving with the configuration in force, and applies the file on the next good SIGHUP. Keys and
mappings live through every reload, good or bad.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from refimpl.client import ClientError
from refimpl.ids import Status
from refimpl.psa.types import EccFamily, EccKeyPair, Ecdsa, Hash, KeyAttributes, KeyPolicy, UsageFlags
from tests.fixtures.service import ServiceFactory, ServiceHandle, ServiceOptions

P256 = KeyAttributes(
    EccKeyPair(EccFamily.SECP_R1), 256, KeyPolicy(UsageFlags(sign_hash=True, verify_hash=True), Ecdsa(Hash.SHA_256))
)
DIGEST = hashlib.sha256(b"reload").digest()
TENANTS = ("alice", "bob")


def error_lines_since(service: ServiceHandle, mark: int) -> list[str]:
    return [line for line in service.log_text()[mark:].splitlines() if "[ERROR" in line]


def assert_keys_are(service: ServiceHandle, expected: dict[str, set[str]]) -> None:
    """Each tenant sees exactly its keys, and each of them signs (the key is whole in the provider)."""
    for tenant, names in expected.items():
        client = service.client(tenant)
        assert {key.name for key in client.list_keys()} == names
        for name in names:
            signature = client.psa_sign_hash(name, DIGEST, Ecdsa(Hash.SHA_256))
            client.psa_verify_hash(name, DIGEST, Ecdsa(Hash.SHA_256), signature)


def is_admin(service: ServiceHandle, name: str) -> bool:
    try:
        service.client(name).list_clients()
    except ClientError as error:
        assert error.status is Status.ADMIN_OPERATION
        return False
    return True


@pytest.mark.threat("A9-T-1", "A3-D-1", "O-6")
@pytest.mark.parametrize("processes", [1, 2])
def test_a_bad_reload_keeps_serving_and_the_next_good_one_applies(
    service_factory: ServiceFactory, processes: int
) -> None:
    """A campaign across reloads: keys are created and destroyed between two bad reloads and a good one; after
    each, the tenants' keys are exactly what was acknowledged, and the config in force is the last good one (with
    one process, and with worker processes behind a supervisor)."""
    options = ServiceOptions(admins=("admin",), processes=processes)
    service = service_factory(options)
    keys: dict[str, set[str]] = {tenant: set() for tenant in TENANTS}
    good_text = service.config_path.read_text()
    broken = {
        "core_settings.thread_pool_size": good_text.replace("thread_pool_size = 4", "thread_pool_size = -1"),
        "listener.timeout": good_text.replace("timeout = 2000", 'timeout = "soon"'),
    }
    for step, (key, text) in enumerate(broken.items()):
        for tenant in TENANTS:
            service.client(tenant).psa_generate_key(f"k{step}", P256)
            keys[tenant].add(f"k{step}")
        service.client("alice").psa_destroy_key(f"k{step}")
        keys["alice"].discard(f"k{step}")
        mark = len(service.log_text())
        service.write_config(text=text)
        service.reload()  # RELOADING=1, then READY=1 with the configuration in force
        assert service.process is not None and service.process.poll() is None
        errors = error_lines_since(service, mark)
        assert len(errors) == 1 and key in errors[0] and "keeps serving" in errors[0], errors
        assert "Parsec configuration reloaded." not in service.log_text()[mark:]
        assert service.client().ping() == (1, 0)
        assert_keys_are(service, keys)
        assert not is_admin(service, "bob")  # the configuration in force is still the first
    service.write_config(replace(options, admins=("admin", "bob")))
    mark = len(service.log_text())
    service.reload()
    assert "Parsec configuration reloaded." in service.log_text()[mark:]
    assert not error_lines_since(service, mark)
    assert is_admin(service, "bob")  # the good file applies
    assert_keys_are(service, keys)
    service.client("bob").psa_destroy_key("k0")
    keys["bob"].discard("k0")
    assert_keys_are(service, keys)


@pytest.mark.threat("A9-T-1", "A3-D-1")
def test_a_reload_that_cannot_be_built_starts_the_configuration_in_force_again(
    service_factory: ServiceFactory, tmp_path: Path
) -> None:
    """A valid file whose socket cannot be bound is found only after the pipeline was stopped: the service
    builds the configuration in force again, on its socket, with every key."""
    service = service_factory(ServiceOptions())
    service.client("alice").psa_generate_key("kept", P256)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    text = service.config_path.read_text().replace(str(service.socket_path), str(blocker / "parsec.sock"))
    mark = len(service.log_text())
    service.write_config(text=text)
    service.reload()
    errors = error_lines_since(service, mark)
    assert len(errors) == 1 and "listener.socket_path" in errors[0] and "started again" in errors[0], errors
    assert service.client().ping() == (1, 0)  # on the socket of the configuration in force
    assert_keys_are(service, {"alice": {"kept"}, "bob": set()})
