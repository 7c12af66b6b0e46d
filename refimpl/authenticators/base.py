"""The authenticator interface: auth bytes + connection metadata → an `Application`, or `AuthenticationError`.

Parsec's `Authenticate` trait (svc:src/authenticators/mod.rs; parsec-facts §1.3, §4.3). An authenticator knows
its wire auth type, its ListAuthenticators description, and the admins named in `[authenticator] admins`
(matched by exact name, as Parsec does). It never logs or keeps the auth bytes: they may be a token (AS1).
Concrete classes register under Parsec's config name with `@register_authenticator("Direct")`, so a JwtSvid
authenticator drops in as one more module. Several authenticators may run side by side (`[[authenticator]]`): each
instance holds its own admins and state, and the identities it returns carry its auth type, which namespaces them.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, Self, TypeVar

from refimpl.config import AuthenticatorConfig
from refimpl.errors import ConfigError
from refimpl.front.listener import PeerCredentials
from refimpl.identity import Application, ApplicationIdentity
from refimpl.ids import AuthType
from refimpl.operations import AuthenticatorInfo


class Authenticator(ABC):
    """One configured authenticator. `authenticate` is called from many worker threads at once."""

    AUTH_TYPE: ClassVar[AuthType]
    DESCRIPTION: ClassVar[str]
    VERSION: ClassVar[tuple[int, int, int]] = (0, 1, 0)
    USES_PEER_CREDENTIALS: ClassVar[bool] = True
    """Whether `identify` needs the connection's peer credentials; an authenticator that sets False gets None, and
    SO_PEERCRED is not asked for (one system call less per request)."""

    def __init__(self, admins: frozenset[str] = frozenset()) -> None:
        self.admins = admins

    @classmethod
    def from_config(cls, config: AuthenticatorConfig) -> Self:
        return cls(frozenset(config.admins))

    @abstractmethod
    def identify(self, auth: bytes, peer: PeerCredentials | None) -> ApplicationIdentity:
        """The identity the auth bytes prove; raises `ParsecError(AUTHENTICATION_ERROR)` otherwise."""

    def authenticate(self, auth: bytes, peer: PeerCredentials | None) -> Application:
        identity = self.identify(auth, peer)
        return Application(identity, is_admin=identity.name in self.admins)

    def describe(self) -> AuthenticatorInfo:
        major, minor, revision = self.VERSION
        return AuthenticatorInfo(self.DESCRIPTION, major, minor, revision, self.AUTH_TYPE)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release threads and connections (on reload and stop)."""


AUTHENTICATOR_TYPES: dict[str, type[Authenticator]] = {}
"""Parsec `auth_type` config name → authenticator class, filled by `@register_authenticator`."""

AUTHENTICATOR_MODULES: dict[str, str] = {
    "Direct": "refimpl.authenticators.direct",
    "UnixPeerCredentials": "refimpl.authenticators.unix_peer_credentials",
    "JwtSvid": "refimpl.authenticators.jwt_svid",
}
"""Where each authenticator type lives; imported when a config names it (JwtSvid loads the SPIFFE library)."""

A = TypeVar("A", bound=type[Authenticator])


def register_authenticator(auth_type: str) -> Callable[[A], A]:
    def register(cls: A) -> A:
        if auth_type in AUTHENTICATOR_TYPES:
            raise ValueError(f"auth_type {auth_type!r} is registered twice")
        AUTHENTICATOR_TYPES[auth_type] = cls
        return cls

    return register


def authenticator_class(auth_type: str, key: str = "authenticator.auth_type") -> type[Authenticator]:
    """The class for a config's `auth_type`, or a ConfigError on `key` saying which types this build has."""
    if auth_type not in AUTHENTICATOR_TYPES and auth_type in AUTHENTICATOR_MODULES:
        importlib.import_module(AUTHENTICATOR_MODULES[auth_type])
    try:
        return AUTHENTICATOR_TYPES[auth_type]
    except KeyError:
        available = ", ".join(sorted(AUTHENTICATOR_MODULES))
        raise ConfigError(key, f"{auth_type} is not available in this service (available: {available})") from None
