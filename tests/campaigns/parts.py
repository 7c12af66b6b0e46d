"""The three providers a service-level campaign runs on, as `[[provider]]` tables, and the real parts behind them.

Software (MbedCrypto, a private key store), PKCS#11 on a private SoftHSM2 token, TPM on a private swtpm, started
with the starters of `tests.fixtures.real_parts` (the test slices use that module's session fixtures instead).
`provider_under_test` is for the bench scripts: it starts what the provider needs, points `SOFTHSM2_CONF` of this
process (and so of the service it starts) at the private token, and stops everything afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refimpl.ids import ProviderId
from tests.fixtures.real_parts import Swtpm, start_softhsm, start_swtpm
from tests.fixtures.service import software_provider_table

PROVIDERS: dict[str, ProviderId] = {
    "software": ProviderId.MBED_CRYPTO,
    "pkcs11": ProviderId.PKCS11,
    "tpm": ProviderId.TPM,
}
"""The campaign's name for each provider, and its Parsec provider ID."""


@dataclass(frozen=True)
class ProviderUnderTest:
    """A provider's `[[provider]]` table, and the swtpm behind it for the TPM (to look inside the TPM)."""

    table: Mapping[str, Any]
    tpm: Swtpm | None = None


@contextmanager
def provider_under_test(kind: str, directory: Path) -> Iterator[ProviderUnderTest]:
    """The provider `kind` ("software", "pkcs11" or "tpm"), its real part running meanwhile."""
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "software":
        yield ProviderUnderTest(software_provider_table(directory))
    elif kind == "pkcs11":
        installation = start_softhsm(directory / "softhsm")
        previous = os.environ.get("SOFTHSM2_CONF")
        os.environ["SOFTHSM2_CONF"] = str(installation.conf_path)
        try:
            yield ProviderUnderTest(installation.main.provider_table("pkcs11-provider"))
        finally:
            if previous is None:
                os.environ.pop("SOFTHSM2_CONF", None)
            else:
                os.environ["SOFTHSM2_CONF"] = previous
    elif kind == "tpm":
        tpm = start_swtpm(directory / "swtpm")
        try:
            yield ProviderUnderTest(tpm.provider_table("tpm-provider"), tpm)
        finally:
            tpm.stop()
    else:
        raise ValueError(f"unknown provider {kind!r}; one of {', '.join(PROVIDERS)}")
