"""`parsec-tm serve` with the real providers: clear start-up errors, and `skip_if_no_tpm` in the running service.

A wrong PIN, a token that is not there, an unreachable TPM or a wrong owner password stops the real service with
exit code 2 and one line naming the provider and the config key — no traceback, no secret. With
`skip_if_no_tpm = true` the service starts without the TPM provider, as Parsec does, and lists the rest.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tpm2_pytss.constants import ESYS_TR
from tpm2_pytss.types import TPM2B_AUTH

from refimpl.client import ClientError
from refimpl.ids import ProviderId, Status
from refimpl.psa.types import Ecdsa, Hash
from tests.fixtures.real_parts import SoftHsmToken, Swtpm, SwtpmFactory
from tests.fixtures.service import (
    ServiceFactory,
    ServiceOptions,
    render_config,
    serve_command,
    software_provider_table,
)
from tests.providers.helpers import P256, template

ECDSA = Ecdsa(Hash.SHA_256)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _refused_start(directory: Path, *tables: dict[str, Any]) -> str:
    """Start the service with these providers; it must refuse, and what it says is returned."""
    directory.mkdir()
    config = directory / "config.toml"
    config.write_text(render_config(ServiceOptions().with_providers(*tables), directory, directory / "parsec.sock"))
    result = subprocess.run(
        serve_command(config), cwd=directory, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    return output


@pytest.mark.threat("A9-I-1", "O-6")
def test_a_wrong_pin_stops_the_service_with_the_key_to_fix(
    tmp_path: Path, softhsm_token: SoftHsmToken, softhsm_spare_token: SoftHsmToken
) -> None:
    table = softhsm_spare_token.provider_table("pkcs11-provider", user_pin="str:" + softhsm_token.user_pin)
    output = _refused_start(tmp_path / "wrong-pin", table)
    assert "provider[pkcs11-provider].user_pin: the token refused the PIN" in output
    assert softhsm_token.user_pin not in output


def test_a_missing_token_stops_the_service(tmp_path: Path, softhsm_token: SoftHsmToken) -> None:
    table = softhsm_token.provider_table("pkcs11-provider", serial_number="feedfacecafebeef")
    output = _refused_start(tmp_path / "missing-token", table)
    assert "provider[pkcs11-provider].serial_number: no initialised token has serial number" in output


def test_an_unreachable_tpm_stops_the_service(tmp_path: Path, swtpm: Swtpm) -> None:
    table = swtpm.provider_table("tpm-provider", tcti=f"swtpm:host=127.0.0.1,port={_closed_port()}")
    output = _refused_start(tmp_path / "no-tpm", table)
    assert "provider[tpm-provider].tcti: cannot open the TCTI" in output


@pytest.mark.threat("A9-I-1", "O-6")
def test_a_wrong_owner_password_stops_the_service(tmp_path: Path, swtpm_factory: SwtpmFactory) -> None:
    tpm = swtpm_factory()
    with tpm.esapi() as esapi:
        esapi.hierarchy_change_auth(ESYS_TR.OWNER, TPM2B_AUTH(b"the-owner-password"))
    table = tpm.provider_table("tpm-provider", owner_hierarchy_auth="str:not-the-owner-password")
    output = _refused_start(tmp_path / "wrong-owner", table)
    assert "provider[tpm-provider].owner_hierarchy_auth: the TPM refused the owner hierarchy password" in output
    assert "not-the-owner-password" not in output


def test_skip_if_no_tpm_starts_the_service_without_the_tpm(
    tmp_path: Path, service_factory: ServiceFactory, swtpm: Swtpm
) -> None:
    missing_tpm = swtpm.provider_table(
        "tpm-provider", tcti=f"swtpm:host=127.0.0.1,port={_closed_port()}", skip_if_no_tpm=True
    )
    software = software_provider_table(tmp_path)
    service = service_factory(ServiceOptions().with_providers(missing_tpm, software))
    providers = [info.id for info in service.client().list_providers()]
    assert providers == [ProviderId.MBED_CRYPTO, ProviderId.CORE]
    assert "skip_if_no_tpm" in service.log_text()


def test_tss2_stays_out_of_the_service_log(
    service_factory: ServiceFactory, swtpm: Swtpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tss2 writes `WARNING:esys:…` to stderr for every TPM error; the TPM provider silences it (TSS2_LOG)."""
    monkeypatch.delenv("TSS2_LOG", raising=False)  # the service must silence tss2 itself, not inherit it
    service = service_factory(ServiceOptions().with_providers(swtpm.provider_table("tpm-provider")))
    client = service.client("tenant-a")
    client.psa_generate_key("k", template(P256, 256, ECDSA, verify_hash=True))
    with pytest.raises(ClientError) as refused:
        client.psa_verify_hash("k", bytes(32), ECDSA, bytes(64))
    assert refused.value.status is Status.PSA_ERROR_INVALID_SIGNATURE
    service.stop()
    log = service.log_text()
    assert "hardware command is received" in log and "result=0x" in log
    assert ":esys:" not in log and ":tcti:" not in log
