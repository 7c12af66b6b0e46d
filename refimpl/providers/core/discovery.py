"""Core operations that describe the service: Ping, ListProviders, ListOpcodes, ListAuthenticators.

Parsec's core provider (svc:src/providers/core/mod.rs; parsec-facts §4.6): Ping answers wire protocol 1.0;
ListProviders lists the built providers in config order with Core last; ListOpcodes answers the opcodes the named
provider handles (ProviderNotRegistered if it was not built); ListAuthenticators describes the configured one.
None of them needs an application identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import ProviderId, Status
from refimpl.operations import (
    AuthenticatorInfo,
    ListAuthenticators,
    ListAuthenticatorsResult,
    ListOpcodes,
    ListOpcodesResult,
    ListProviders,
    ListProvidersResult,
    Ping,
    PingResult,
)
from refimpl.providers.base import Provider, handles

if TYPE_CHECKING:
    from refimpl.operations import ProviderInfo


class DiscoveryOperations(Provider):
    """Mixin of the Core provider: `providers` are the built crypto providers, in config order."""

    providers: Sequence[Provider]
    authenticators: Sequence[AuthenticatorInfo]

    @handles(Ping)
    def ping(self, application: Application | None, operation: Ping) -> PingResult:
        return PingResult(wire_protocol_version_maj=1, wire_protocol_version_min=0)

    @handles(ListProviders)
    def list_providers(self, application: Application | None, operation: ListProviders) -> ListProvidersResult:
        infos: list[ProviderInfo] = [provider.describe() for provider in self.providers]
        infos.append(self.describe())
        return ListProvidersResult(tuple(infos))

    @handles(ListOpcodes)
    def list_opcodes(self, application: Application | None, operation: ListOpcodes) -> ListOpcodesResult:
        if operation.provider_id == ProviderId.CORE:
            return ListOpcodesResult(self.opcodes)
        # Like the dispatcher, the last provider built with an ID answers for it.
        for provider in reversed(self.providers):
            if provider.provider_id == operation.provider_id:
                return ListOpcodesResult(provider.opcodes)
        raise ParsecError(Status.PROVIDER_NOT_REGISTERED, f"ListOpcodes for provider {operation.provider_id}")

    @handles(ListAuthenticators)
    def list_authenticators(
        self, application: Application | None, operation: ListAuthenticators
    ) -> ListAuthenticatorsResult:
        return ListAuthenticatorsResult(tuple(self.authenticators))
