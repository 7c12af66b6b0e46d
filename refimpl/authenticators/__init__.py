"""Authenticators: turn a request's auth field (and the connection's peer credentials) into an application.

The seed's dataflow box "Authenticator" (svc:src/authenticators/; parsec-facts §1.3, §4.3). One interface,
`Authenticator`, in `base`; one module per authenticator type, registered under Parsec's `auth_type` name.
"""

from refimpl.authenticators.base import AUTHENTICATOR_TYPES, Authenticator, authenticator_class
from refimpl.authenticators.direct import DirectAuthenticator
from refimpl.authenticators.unix_peer_credentials import UnixPeerCredentialsAuthenticator

__all__ = [
    "AUTHENTICATOR_TYPES",
    "Authenticator",
    "DirectAuthenticator",
    "UnixPeerCredentialsAuthenticator",
    "authenticator_class",
]
