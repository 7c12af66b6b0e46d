"""The service's life cycle as a process: SIGHUP reload, SIGTERM/SIGINT, kill -9 and restart, bad configs, root.

Parsec's behaviour (svc:src/bin/main.rs; parsec-facts §5.6 and svc:e2e_tests/tests/all_providers/config.rs):
SIGHUP finishes in-flight requests, rebuilds everything from the re-read config and re-creates the socket, keeping
every key; SIGTERM and SIGINT stop it gracefully (exit 0). One difference, as nginx and HAProxy do it: where Parsec
exits on an invalid config at reload, this service keeps serving with the configuration in force.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from refimpl.client import BasicClient, ClientError
from refimpl.ids import Status
from refimpl.psa import types as t
from tests.e2e import parsec_raw_client as raw
from tests.e2e.helpers import serve_once
from tests.fixtures.service import REPO_ROOT, ServiceFactory, ServiceHandle, ServiceOptions, render_config

pytestmark = pytest.mark.e2e

ECDSA = t.Ecdsa(t.Hash.SHA_256)
P256 = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True, verify_hash=True), ECDSA)
)
DIGEST = hashlib.sha256(b"life cycle").digest()


def make_keys(service: ServiceHandle) -> dict[tuple[str, str], bytes]:
    """Two tenants, two keys each; returns their public keys."""
    keys = {}
    for app in ("alice", "bob"):
        client = service.client(app)
        for name in ("k1", "k2"):
            client.psa_generate_key(name, P256)
            keys[(app, name)] = client.psa_export_public_key(name)
    return keys


def assert_keys_usable(service: ServiceHandle, keys: dict[tuple[str, str], bytes]) -> None:
    for (app, name), public in keys.items():
        client = service.client(app)
        assert client.psa_export_public_key(name) == public
        client.psa_verify_hash(name, DIGEST, ECDSA, client.psa_sign_hash(name, DIGEST, ECDSA))
    assert sorted(key.name for key in service.client("alice").list_keys()) == ["k1", "k2"]


def status_of(client: BasicClient, call: str) -> Status:
    with pytest.raises(ClientError) as caught:
        getattr(client, call)()
    return caught.value.status


@pytest.mark.threat("A3-D-1", "O-0")
@pytest.mark.parametrize("manager_type", ["SQLite", "OnDisk"])
def test_sighup_reload_keeps_every_key_and_applies_the_new_config(
    service_factory: ServiceFactory, manager_type: str, provider_table: dict[str, Any]
) -> None:
    options = ServiceOptions(manager_type=manager_type, admins=("admin",)).with_providers(provider_table)
    service = service_factory(options)
    keys = make_keys(service)
    assert status_of(service.client("bob"), "list_clients") is Status.ADMIN_OPERATION
    service.write_config(replace(options, admins=("admin", "bob")))
    service.reload()
    assert service.log_text().count(f"listening on {service.socket_path}") == 2  # the socket was re-created
    assert service.client("bob").list_clients() == ["alice", "bob"]  # the new admins apply
    assert_keys_usable(service, keys)
    log = service.log_text()
    assert "SIGHUP signal received. Reloading the configuration..." in log
    assert "Parsec configuration reloaded." in log


@pytest.mark.parametrize("manager_type", ["SQLite", "OnDisk"])
def test_kill_9_and_restart_keeps_every_key(
    service_factory: ServiceFactory, manager_type: str, provider_table: dict[str, Any]
) -> None:
    service = service_factory(ServiceOptions(manager_type=manager_type).with_providers(provider_table))
    keys = make_keys(service)
    service.kill9()
    service.start()
    assert_keys_usable(service, keys)


def test_in_flight_request_finishes_before_a_graceful_stop(service_factory: ServiceFactory) -> None:
    service = service_factory(ServiceOptions(timeout_ms=10_000))
    data = raw.request(raw.CORE, raw.PING)
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(service.socket_path))
        client.sendall(data[:10])  # a worker is now reading this request
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)
        client.sendall(data[10:])
        reply = b""
        while chunk := client.recv(4096):
            reply += chunk
    assert raw.parse(reply)[0]["status"] == 0
    assert service.process.wait(timeout=60) == 0


@pytest.mark.threat("A3-D-1", "O-0")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_gracefully(service_factory: ServiceFactory, sig: signal.Signals) -> None:
    service = service_factory()
    assert service.stop(sig) == 0
    assert "Parsec is now terminated." in service.log_text()
    assert not service.socket_path.exists()


@pytest.mark.threat("A9-T-1", "O-6")
def test_an_invalid_config_on_reload_keeps_the_service_serving(service_factory: ServiceFactory) -> None:
    service = service_factory()
    service.write_config(text=service.config_path.read_text().replace("thread_pool_size = 4", "thread_pool_size = -1"))
    service.reload()  # RELOADING=1, then READY=1 with the configuration in force
    assert service.process is not None and service.process.poll() is None
    assert service.client().ping() == (1, 0)
    log = service.log_text()
    assert "core_settings.thread_pool_size: must be a positive integer, got -1" in log
    assert "keeps serving with the configuration in force" in log
    assert "Traceback" not in log


@pytest.mark.threat("A9-E-1", "M-5")
def test_an_invalid_config_at_start_is_one_line_naming_the_key(tmp_path: Path) -> None:
    text = render_config(ServiceOptions(), tmp_path, tmp_path / "s.sock").replace("timeout = 2000", "timeout = 0")
    result = serve_once(tmp_path, text)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "parsec-tm serve: invalid configuration: listener.timeout: must be a positive integer, got 0"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.threat("A3-D-1", "O-0")
def test_running_as_root_is_refused_unless_allowed(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "the suite runs as root"
    text = render_config(ServiceOptions(), tmp_path, tmp_path / "s.sock").replace("allow_root = true", "")
    result = serve_once(tmp_path, text)
    assert result.returncode == 2
    assert "core_settings.allow_root: Insecure configuration; the Parsec service should not be running as root!" in (
        result.stderr
    )


def test_unknown_keys_are_logged_as_warnings(service_factory: ServiceFactory) -> None:
    service = service_factory(ServiceOptions(extra_toml="\n[future_section]\nanswer = 42\n"))
    assert "[WARN  refimpl.service] config" in service.log_text()
    assert "unknown key future_section is ignored" in service.log_text()


def test_socket_activation_uses_the_passed_socket(tmp_path: Path) -> None:
    """systemd passes one listening socket as fd 3 (LISTEN_PID/LISTEN_FDS); the service serves on it."""
    activated = tmp_path / "activated.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(activated))
    listener.listen(16)
    config = tmp_path / "config.toml"
    config.write_text(render_config(ServiceOptions(), tmp_path, tmp_path / "configured.sock"))
    launcher = (
        "import os, sys; os.dup2(int(sys.argv[1]), 3); os.environ['LISTEN_PID'] = str(os.getpid()); "
        "os.environ['LISTEN_FDS'] = '1'; "
        "os.execv(sys.executable, [sys.executable, '-m', 'parsec_tm.cli.serve', '--config', sys.argv[2]])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, str(listener.fileno()), str(config)],
        cwd=REPO_ROOT,
        pass_fds=(listener.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listener.close()
    try:
        client = BasicClient(f"unix:{activated}", timeout=60)
        assert client.ping() == (1, 0)  # queued in the backlog until the service accepts
        assert not (tmp_path / "configured.sock").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
