"""The TPM provider (provider ID 3): keys wrapped by a TPM 2.0, held as blobs by the key info manager.

Parsec's `svc:src/providers/tpm/mod.rs` (`Provider`, `ProviderBuilder`) and its config keys (parsec-facts §5.5):
`tcti` (the strings tpm2-tss's loader accepts: `device:/dev/tpmrm0`, `mssim:host=…,port=…`, `swtpm:…`,
`tabrmd:…`), `owner_hierarchy_auth` and `endorsement_hierarchy_auth` (`str:`/`hex:`), `skip_if_no_tpm`.
Operations: GenerateKey, DestroyKey, SignHash, VerifyHash, ImportKey, ExportPublicKey, AsymmetricEncrypt/Decrypt,
CanDoCrypto, GenerateRandom, and Parsec's TPM-only key attestation (PrepareKeyAttestation and AttestKey with
TPM2_ActivateCredential, `attestation.py`): Parsec's 12 opcodes, one file per family; `context.py` holds the TPM
connection, its lock and the storage key.
Start-up failures are `ConfigError`s naming the provider and the key, e.g.
`provider[tpm-provider].owner_hierarchy_auth: the TPM refused the owner hierarchy password`, never the password.
With `skip_if_no_tpm = true`, a TPM that cannot be reached raises `refimpl.providers.base.ProviderSkipped` instead:
the service leaves the provider out and starts without it, as Parsec does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Self

from tpm2_pytss import TSS2_Exception

from refimpl.errors import ConfigError
from refimpl.ids import ProviderId
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.providers.base import (
    Capability,
    ProviderIdentity,
    ProviderSettings,
    ProviderSkipped,
    register_provider,
)
from refimpl.providers.secrets import Secret, parse_secret
from refimpl.providers.tpm.asym_encryption import AsymEncryption
from refimpl.providers.tpm.asym_sign import AsymSign
from refimpl.providers.tpm.attestation import KeyAttestation
from refimpl.providers.tpm.capability_discovery import CapabilityDiscovery
from refimpl.providers.tpm.context import HierarchyAuthError, TpmContext, TpmUnreachable
from refimpl.providers.tpm.generate_random import RandomGeneration
from refimpl.providers.tpm.key_management import KeyManagement

__all__ = ["TpmProvider"]

log = logging.getLogger(__name__)

TCTI_NAMES = frozenset({"device", "mssim", "swtpm", "tabrmd", "libtpms", "cmd", "pcap", "spi-helper"})
"""The TCTI modules tpm2-tss's loader knows (`tss2-tcti-<name>`); the part of `tcti` before the first colon."""


def _option_key(name: str, option: str) -> str:
    return f"provider[{name}].{option}"


@register_provider("Tpm")
class TpmProvider(KeyManagement, AsymSign, AsymEncryption, CapabilityDiscovery, RandomGeneration, KeyAttestation):
    """Parsec's TPM provider."""

    IDENTITY = ProviderIdentity(
        provider_id=ProviderId.TPM,
        uuid="1e4954a4-ff21-46d3-ab0c-661eeb667e1d",
        description=(
            "TPM provider, interfacing with a library implementing the TCG TSS 2.0 Enhanced System API specification."
        ),
        vendor="Trusted Computing Group (TCG)",
        default_name="tpm-provider",
    )
    CONFIG_KEYS = frozenset({"tcti", "owner_hierarchy_auth", "endorsement_hierarchy_auth", "skip_if_no_tpm"})
    CAPABILITIES = frozenset(Capability) - {Capability.OAEP_LABEL}
    """OAEP labels only when they end in a zero byte, which the TPM would otherwise append (asym_encryption.py)."""

    @classmethod
    def from_config(
        cls,
        name: str,
        options: Mapping[str, Any],
        key_info_manager: KeyInfoManager | None,
        settings: ProviderSettings,
    ) -> Self:
        """Connect, flush leftovers, check both hierarchy passwords with the TPM, establish the storage key."""
        if key_info_manager is None:
            raise ConfigError(_option_key(name, "key_info_manager"), "the TPM provider needs a key info manager")
        tcti = options.get("tcti")
        if not isinstance(tcti, str) or tcti.split(":", 1)[0] not in TCTI_NAMES:
            raise ConfigError(
                _option_key(name, "tcti"),
                'is required: a TCTI such as "device:/dev/tpmrm0", "mssim:host=localhost,port=2321" or '
                f'"swtpm:port=2321" (modules: {", ".join(sorted(TCTI_NAMES))}), got {tcti!r}',
            )
        if "owner_hierarchy_auth" not in options:
            raise ConfigError(
                _option_key(name, "owner_hierarchy_auth"),
                'is required (it may be empty: owner_hierarchy_auth = "")',
            )
        owner_auth = parse_secret(_option_key(name, "owner_hierarchy_auth"), options["owner_hierarchy_auth"])
        endorsement_auth: Secret | None = None
        if "endorsement_hierarchy_auth" in options:
            endorsement_auth = parse_secret(
                _option_key(name, "endorsement_hierarchy_auth"), options["endorsement_hierarchy_auth"]
            )
        skip_if_no_tpm = options.get("skip_if_no_tpm", False)
        if not isinstance(skip_if_no_tpm, bool):
            raise ConfigError(_option_key(name, "skip_if_no_tpm"), f"must be true or false, got {skip_if_no_tpm!r}")

        try:
            context = TpmContext.acquire(tcti, owner_auth, endorsement_auth)
        except TpmUnreachable as error:
            if skip_if_no_tpm:
                log.warning("%s: no TPM at %r and skip_if_no_tpm is set: starting without this provider", name, tcti)
                raise ProviderSkipped(_option_key(name, "tcti"), f"{error}; skipped (skip_if_no_tpm)") from None
            raise ConfigError(
                _option_key(name, "tcti"), f"{error}; check that the TPM (or simulator) is running"
            ) from None
        except HierarchyAuthError as error:
            raise ConfigError(_option_key(name, f"{error.hierarchy}_hierarchy_auth"), str(error)) from None
        except TSS2_Exception as error:
            raise ConfigError(_option_key(name, "tcti"), f"the TPM failed during start-up: {error}") from None
        provider = cls(name, key_info_manager, context, settings)
        if endorsement_auth is not None:
            provider.endorsement_auth = endorsement_auth  # for the endorsement key of key attestation
        log.info("%s: TPM at %r ready", name, tcti)
        return provider
