"""What the running service logs: the M-4 events with identity and time, the component on every line, no secret.

Seed mitigations M-4 (six events with application identity, date and time), M-7 (the emitting component on every
line) and the rule that no secret is ever logged (PINs, auth values, key material, request bodies, tokens);
Parsec's format `[LEVEL module::path] message` (svc:e2e_tests/tests/all_providers/logging.rs).
"""

from __future__ import annotations

import base64
import contextlib
import re

import pytest

from refimpl.psa import types as t
from tests.e2e import parsec_raw_client as raw
from tests.e2e.conftest import PROVIDER_KINDS, provider_table_for
from tests.fixtures.service import ServiceFactory, ServiceOptions

pytestmark = pytest.mark.e2e

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(DEBUG|INFO |WARN |ERROR) (refimpl|parsec_tm)(\.\w+)+\] \S"
)
SECRET_KEY = bytes.fromhex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
PLAINTEXT = b"top secret plaintext"
ECDSA = t.Ecdsa(t.Hash.SHA_256)
EXPORTABLE = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(export=True, sign_hash=True), ECDSA)
)


def renderings(secret: bytes) -> list[str]:
    """Ways a secret could leak into text: hex, base64, Python's bytes repr, and the text itself."""
    forms = [secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(), repr(secret)[2:-1]]
    with contextlib.suppress(UnicodeDecodeError):
        forms.append(secret.decode())
    return forms


@pytest.mark.threat("A1-R-1", "A2-R-1", "A6-R-1", "A7-R-1", "M-4", "A8-S-2", "M-7", "A8-I-1")
def test_m4_events_m7_components_and_no_secrets(service_factory: ServiceFactory) -> None:
    service = service_factory(ServiceOptions(log_level="info"))
    alice = service.client("alice")
    alice.psa_import_key("exportable", SECRET_KEY, EXPORTABLE)
    assert alice.psa_export_key("exportable") == SECRET_KEY
    alice.psa_sign_hash("exportable", bytes(32), ECDSA)
    gcm = t.AeadDefaultTag(t.AeadWithDefaultLengthTag.GCM)
    alice.psa_import_key(
        "aes",
        bytes(range(32)),
        t.KeyAttributes(t.Aes(), 256, t.KeyPolicy(t.UsageFlags(encrypt=True, decrypt=True), gcm)),
    )
    body = raw.request(raw.MBED_CRYPTO, 0x11, b"", raw.DIRECT, b"alice")  # AeadEncrypt, empty body: an error
    raw.exchange(str(service.socket_path), body)
    alice.psa_aead_encrypt("aes", gcm, bytes(12), b"", PLAINTEXT)
    service.restart()  # mappings are read back from the persistent store
    service.client("alice").list_keys()

    log = service.log_text()
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines and all(LINE.match(line) for line in lines), [line for line in lines if not LINE.match(line)][:3]
    events = {
        "new request received": 'new request received: app="alice" auth=Direct opcode=PsaSignHash provider=1',
        "response sent back": 'response sent back: app="alice" auth=Direct opcode=PsaSignHash status=Success',
        "new mapping created": 'new mapping created: app="alice" auth=Direct key=exportable provider=mbed-crypto',
        "mapping is read": 'mapping is read from the persistent store: app="alice" auth=Direct key=exportable',
    }
    for name, text in events.items():
        assert text in log, f"no {name} event"
    assert "[INFO  refimpl.front.front_end] new request received" in log  # the component (M-7)
    for secret in (SECRET_KEY, PLAINTEXT, bytes(range(32))):
        for form in renderings(secret):
            assert form not in log, f"a secret leaked into the log as {form!r}"


@pytest.mark.threat("A8-S-1", "A8-T-1")
def test_a_client_chosen_name_cannot_forge_a_log_line(service_factory: ServiceFactory) -> None:
    service = service_factory()
    forged = "mallory\n2026-01-01T00:00:00.000Z [INFO  refimpl.service] Parsec is now terminated."
    reply = raw.exchange(
        str(service.socket_path), raw.request(raw.CORE, raw.LIST_KEYS, auth_type=raw.DIRECT, auth=forged.encode())
    )
    assert raw.status_of(reply) == 0
    log = service.log_text()
    assert not any(line.startswith("2026-01-01T00:00:00.000Z") for line in log.splitlines())
    assert 'app="mallory\\n2026-01-01T00:00:00.000Z [INFO  refimpl.service] Parsec is now terminated."' in log
    assert all(LINE.match(line) for line in log.splitlines() if line.strip())


@pytest.mark.threat("A4-R-1", "A5-R-1", "M-4")
@pytest.mark.parametrize("kind", [kind for kind in PROVIDER_KINDS if kind != "software"])
def test_hardware_commands_are_logged_with_the_application(
    service_factory: ServiceFactory,
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The last two M-4 events, on the providers that drive a (simulated) hardware module."""
    table = provider_table_for(kind, request, tmp_path_factory)
    service = service_factory(ServiceOptions().with_providers(table))
    client = service.client("hw-tenant")
    key = t.KeyAttributes(t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True), ECDSA))
    client.psa_generate_key("hw-key", key)
    client.psa_sign_hash("hw-key", bytes(32), ECDSA)
    log = service.log_text()
    assert 'a hardware command is issued: app="hw-tenant" auth=Direct' in log
    assert 'a hardware command is received: app="hw-tenant" auth=Direct' in log
