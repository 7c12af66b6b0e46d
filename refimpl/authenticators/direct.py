"""The Direct authenticator: the auth field is the application name, in UTF-8 (for tests only).

Parsec's `DirectAuthenticator` (svc:src/authenticators/direct_authenticator/mod.rs; parsec-facts §1.3):
an empty or non-UTF-8 field is an `AuthenticationError` (11). Any client can claim any name, so the seed's
threat A1-S-1 is wide open with it; Parsec's docs restrict it to testing.
"""

from __future__ import annotations

from refimpl.authenticators.base import Authenticator, register_authenticator
from refimpl.errors import ParsecError
from refimpl.front.listener import PeerCredentials
from refimpl.identity import ApplicationIdentity
from refimpl.ids import AuthType, Status


@register_authenticator("Direct")
class DirectAuthenticator(Authenticator):
    AUTH_TYPE = AuthType.DIRECT
    USES_PEER_CREDENTIALS = False
    DESCRIPTION = (
        "Directly parses the authentication field as a UTF-8 string and uses that as the application identity. "
        "Should be used for testing only."
    )

    def identify(self, auth: bytes, peer: PeerCredentials | None) -> ApplicationIdentity:
        if not auth:
            raise ParsecError(Status.AUTHENTICATION_ERROR, "Direct authentication with an empty application name")
        try:
            name = auth.decode("utf-8")
        except UnicodeDecodeError:
            raise ParsecError(Status.AUTHENTICATION_ERROR, "Direct application name is not valid UTF-8") from None
        return ApplicationIdentity.of(name, AuthType.DIRECT)
