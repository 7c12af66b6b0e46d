"""The concrete state of the service model: what Parsec stores and what the deployment around it holds.

Seed assets it represents: private keys in the providers' key stores (AS3), the key-mapping store of the key info
manager (AS7), the configuration file and the configuration in force (AS5), and, in the Identity Provider variant,
the trust bundle (AS2) and who holds which authentication token (AS1).

Fields marked *ghost* are bookkeeping the real service does not keep; the properties use them to say whose key a
provider key is (`ProviderKey.owner`) and what the trusted administrator meant to configure (`State.intended`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from model.frozen import FrozenMap
from model.nouns import (
    CRYPTO_PROVIDERS,
    VARIANT_AUTHENTICATOR,
    Config,
    Handle,
    KeyAttributes,
    KeyIdentity,
    KeyName,
    Lifecycle,
    ProviderId,
    Tenant,
    VariantName,
)


@dataclass(frozen=True)
class MappingEntry:
    """A key info manager record: the provider the key lives in and its provider-specific handle."""

    provider: ProviderId
    handle: Handle


@dataclass(frozen=True)
class ProviderKey:
    """A key in a provider's store: its policy, and (ghost) the key identity it was created for."""

    attributes: KeyAttributes
    owner: Tenant
    origin: KeyName


@dataclass(frozen=True)
class State:
    """The whole service and its surroundings at one instant.

    `config_file` is what SIGHUP or a restart reads; `active` is the configuration in force; `intended` (ghost) is
    the trusted administrator's configuration (seed ASUM-2). `tokens` lists (holder, identity) pairs beyond each
    tenant's own token; `forgers` the principals whose signing key the trust bundle wrongly accepts.
    """

    variant: VariantName
    lifecycle: Lifecycle
    active: Config
    config_file: Config
    intended: Config
    mappings: FrozenMap[KeyIdentity, MappingEntry] = field(default_factory=FrozenMap)
    provider_keys: FrozenMap[Handle, ProviderKey] = field(default_factory=FrozenMap)
    next_key_id: int = 1
    tokens: frozenset[tuple[Tenant, Tenant]] = frozenset()
    forgers: frozenset[Tenant] = frozenset()

    def entry(self, identity: KeyIdentity) -> MappingEntry | None:
        """The mapping of `identity`, or None."""
        return self.mappings.get(identity)

    def evolve(self, **changes: object) -> State:
        """A copy with some fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]


def initial_state(
    variant: VariantName,
    admins: frozenset[str] = frozenset({"admin"}),
    providers: tuple[ProviderId, ...] = CRYPTO_PROVIDERS,
) -> State:
    """A freshly started service with no keys, configured as the trusted administrator intends."""
    config = Config(authenticator=VARIANT_AUTHENTICATOR[variant], admins=admins, providers=providers)
    return State(variant=variant, lifecycle=Lifecycle.RUNNING, active=config, config_file=config, intended=config)
