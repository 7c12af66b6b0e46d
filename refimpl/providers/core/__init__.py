"""The Core provider (ID 0): service-level operations, no cryptography.

Parsec's `CoreProvider` (svc:src/providers/core/mod.rs; parsec-facts §4.6). Operation families live in
`discovery` (Ping, ListProviders, ListOpcodes, ListAuthenticators) and `clients` (ListKeys, ListClients,
DeleteClient); `provider` assembles them.
"""

from refimpl.providers.core.provider import CoreProvider

__all__ = ["CoreProvider"]
