"""Who is asking, and which key they mean: application identities and key identities.

Parsec's `ApplicationIdentity {name, auth}` and `KeyIdentity (application, provider, key name)`
(svc:src/authenticators/mod.rs, svc:src/key_info_managers/mod.rs; parsec-facts §4.3, §4.7). A key identity's
equality and hash ignore the provider, exactly as Parsec's do: one application cannot reuse a key name across
providers that share a key info manager. This is the one value type every key info manager and provider uses;
the tenant-isolation property of `properties/` is stated over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from refimpl.ids import INTERNAL_AUTH_ID, AuthType


@dataclass(frozen=True, order=True)
class ApplicationIdentity:
    """An application (a tenant) as an authenticator named it: the name is only unique within its authenticator."""

    name: str
    authenticator_id: int  # an AuthType value, or INTERNAL_AUTH_ID for the service's own keys

    @classmethod
    def of(cls, name: str, auth: AuthType) -> ApplicationIdentity:
        return cls(name=name, authenticator_id=int(auth))

    @property
    def is_internal(self) -> bool:
        return self.authenticator_id == INTERNAL_AUTH_ID


@dataclass(frozen=True)
class Application:
    """An authenticated caller: its identity and whether the config lists it among the admins."""

    identity: ApplicationIdentity
    is_admin: bool = False


@dataclass(frozen=True)
class KeyIdentity:
    """(application, key name), with the provider recorded but not part of equality (Parsec's semantics)."""

    application: ApplicationIdentity
    key_name: str
    provider_name: str = field(default="", compare=False)
    provider_uuid: str = field(default="", compare=False)
