"""The UnixPeerCredentials authenticator: the declared UID must equal the socket peer's UID (SO_PEERCRED).

Parsec's `UnixPeerCredentialsAuthenticator` (svc:src/authenticators/unix_peer_credentials_authenticator/mod.rs;
parsec-facts §1.3): the auth field is exactly 4 bytes, the client's UID as u32 little-endian; any other length,
a missing peer credential or a UID different from the kernel's answer is an `AuthenticationError` (11). The
identity is the UID in decimal ("1000"). The kernel vouches for the peer, which is what mitigates A1-S-1.
"""

from __future__ import annotations

from refimpl.authenticators.base import Authenticator, register_authenticator
from refimpl.errors import ParsecError
from refimpl.front.listener import PeerCredentials
from refimpl.identity import ApplicationIdentity
from refimpl.ids import AuthType, Status


@register_authenticator("UnixPeerCredentials")
class UnixPeerCredentialsAuthenticator(Authenticator):
    AUTH_TYPE = AuthType.UNIX_PEER_CREDENTIALS
    DESCRIPTION = (
        "Uses Unix peer credentials to authenticate the client. Verifies that the self-declared Unix user "
        "identifier (UID) in the request's authentication header matches that which is found from the peer "
        "credentials."
    )

    def identify(self, auth: bytes, peer: PeerCredentials | None) -> ApplicationIdentity:
        if len(auth) != 4:
            raise ParsecError(Status.AUTHENTICATION_ERROR, f"UID field is {len(auth)} bytes, expected 4")
        if peer is None:
            raise ParsecError(Status.AUTHENTICATION_ERROR, "no peer credentials on this connection")
        declared = int.from_bytes(auth, "little")
        if declared != peer.uid:
            raise ParsecError(Status.AUTHENTICATION_ERROR, f"declared UID {declared} is not the peer's UID {peer.uid}")
        return ApplicationIdentity.of(str(peer.uid), AuthType.UNIX_PEER_CREDENTIALS)
