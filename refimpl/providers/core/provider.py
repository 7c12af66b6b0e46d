"""The Core provider class: Parsec's provider ID 0, always present, reporting the service's own version.

Parsec's `CoreProvider` (svc:src/providers/core/mod.rs; parsec-facts §2.3, §4.5–4.6). It is built by the service
from the other providers and the authenticators, never from a `[[provider]]` table. ListOpcodes(Core) answers
{Ping, ListProviders, ListOpcodes, ListAuthenticators, ListKeys}: the admin operations ListClients and
DeleteClient work but are not listed, exactly as in Parsec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any, Self

from refimpl.errors import ConfigError
from refimpl.ids import ADMIN_OPCODES, Opcode, ProviderId
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import AuthenticatorInfo
from refimpl.providers.base import Provider, ProviderIdentity, ProviderSettings
from refimpl.providers.core.clients import ClientOperations
from refimpl.providers.core.discovery import DiscoveryOperations


def service_version() -> tuple[int, int, int]:
    """The installed parsec-tm version as (major, minor, revision), which Core reports like Parsec's crate version."""
    parts = [int(part) for part in metadata.version("parsec-tm").split(".")[:3] if part.isdigit()]
    major, minor, revision = [*parts, 0, 0, 0][:3]
    return major, minor, revision


class CoreProvider(DiscoveryOperations, ClientOperations):
    IDENTITY = ProviderIdentity(
        provider_id=ProviderId.CORE,
        uuid="47049873-2a43-4845-9d72-831eab668784",
        description="Software provider that implements only administrative (i.e. no cryptographic) operations",
        vendor="",
        default_name="core-provider",
        version=service_version(),
    )

    def __init__(self, providers: Sequence[Provider], authenticators: Sequence[AuthenticatorInfo]) -> None:
        super().__init__(self.IDENTITY.default_name)
        self.providers = tuple(providers)
        self.authenticators = tuple(authenticators)

    @classmethod
    def from_config(
        cls,
        name: str,
        options: Mapping[str, Any],
        key_info_manager: KeyInfoManager | None,
        settings: ProviderSettings,
    ) -> Self:
        raise ConfigError("provider.provider_type", "the Core provider is always present and is not configured")

    @property
    def opcodes(self) -> frozenset[Opcode]:
        return super().opcodes - ADMIN_OPCODES
