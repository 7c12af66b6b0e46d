"""`parsec-tm serve --processes N`: pre-forked workers sharing the socket keep one consistent view of every key.

See refimpl/front/worker_processes.py: each worker builds its own pipeline after the fork; the SQLite store runs in
shared mode; a name race between processes gives one Success and PsaErrorAlreadyExists to the others, with no key
left behind; SIGHUP, SIGTERM and a worker's crash are handled by the supervising parent.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import threading
from pathlib import Path

import pytest

from refimpl.client import ClientError
from refimpl.ids import Status
from refimpl.providers.software.key_store import KeyStore
from refimpl.psa import types as t
from tests.e2e.helpers import serve_once
from tests.fixtures.service import ServiceFactory, ServiceHandle, ServiceOptions, render_config

pytestmark = pytest.mark.e2e

ECDSA = t.Ecdsa(t.Hash.SHA_256)
P256 = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True, verify_hash=True), ECDSA)
)
DIGEST = hashlib.sha256(b"workers").digest()


def worker_pids(service: ServiceHandle) -> list[int]:
    match = re.findall(r"worker processes serve: ([\d, ]+)", service.log_text())
    assert match, service.log_text()
    return [int(pid) for pid in match[-1].split(", ")]


def key_store(service: ServiceHandle) -> KeyStore:
    return KeyStore(service.directory / "keys-mbed-crypto-provider")


def test_every_process_sees_every_change(service_factory: ServiceFactory) -> None:
    service = service_factory(ServiceOptions(processes=2, thread_pool_size=2))
    assert len(worker_pids(service)) == 2
    client = service.client("tenant")
    for index in range(12):  # consecutive connections land on either process
        name = f"k{index}"
        client.psa_generate_key(name, P256)
        client.psa_verify_hash(name, DIGEST, ECDSA, client.psa_sign_hash(name, DIGEST, ECDSA))
        assert name in [key.name for key in client.list_keys()]
        client.psa_destroy_key(name)
        for _ in range(3):
            with pytest.raises(ClientError) as caught:
                client.psa_sign_hash(name, DIGEST, ECDSA)
            assert caught.value.status is Status.PSA_ERROR_DOES_NOT_EXIST


@pytest.mark.parametrize("processes", [1, 2])
def test_a_race_for_one_name_has_one_winner_and_no_orphan(service_factory: ServiceFactory, processes: int) -> None:
    service = service_factory(ServiceOptions(processes=processes, thread_pool_size=4))
    outcomes: list[str] = []

    def create() -> None:
        try:
            service.client("racer").psa_generate_key("contested", P256)
            outcomes.append("Success")
        except ClientError as error:
            outcomes.append(error.status.parsec_name)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["PsaErrorAlreadyExists"] * 7 + ["Success"]
    assert [key.name for key in service.client("racer").list_keys()] == ["contested"]
    assert len(key_store(service).key_ids()) == 1  # the losers' keys were destroyed


def test_reload_and_graceful_stop_with_workers(service_factory: ServiceFactory) -> None:
    service = service_factory(ServiceOptions(processes=2))
    client = service.client("tenant")
    client.psa_generate_key("kept", P256)
    before = worker_pids(service)
    service.reload()
    after = worker_pids(service)
    assert set(before).isdisjoint(after)
    assert not any(Path(f"/proc/{pid}").exists() for pid in before)  # the old workers have exited
    client.psa_verify_hash("kept", DIGEST, ECDSA, client.psa_sign_hash("kept", DIGEST, ECDSA))
    assert service.stop() == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in after)


def test_a_dead_worker_stops_the_service(service_factory: ServiceFactory) -> None:
    service = service_factory(ServiceOptions(processes=2))
    first, second = worker_pids(service)
    os.kill(first, signal.SIGKILL)
    assert service.process is not None
    assert service.process.wait(timeout=60) == 1
    assert f"worker process {first} died" in service.log_text()
    assert not Path(f"/proc/{second}").exists()


def test_stores_that_cannot_be_shared_are_refused(tmp_path: Path) -> None:
    config = render_config(ServiceOptions(manager_type="OnDisk"), tmp_path, tmp_path / "s.sock")
    result = serve_once(tmp_path, config, "--processes", "2")
    assert result.returncode == 2
    assert "key_manager[0] (kim).manager_type: --processes above 1 needs SQLite" in result.stderr
