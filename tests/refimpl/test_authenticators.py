"""Direct and UnixPeerCredentials authenticators: Parsec's rules and statuses (facts §1.3, §4.3)."""

from __future__ import annotations

import pytest

from refimpl.authenticators import (
    AUTHENTICATOR_TYPES,
    DirectAuthenticator,
    UnixPeerCredentialsAuthenticator,
    authenticator_class,
)
from refimpl.config import AuthenticatorConfig
from refimpl.errors import ConfigError, ParsecError
from refimpl.front.listener import PeerCredentials
from refimpl.identity import ApplicationIdentity
from refimpl.ids import AuthType, Status

PEER = PeerCredentials(pid=4242, uid=1000, gid=1000)


def status_of(
    authenticator: DirectAuthenticator | UnixPeerCredentialsAuthenticator,
    auth: bytes,
    peer: PeerCredentials | None = PEER,
) -> Status:
    with pytest.raises(ParsecError) as caught:
        authenticator.authenticate(auth, peer)
    return caught.value.status


def test_direct_identity_is_the_utf8_name() -> None:
    application = DirectAuthenticator().authenticate("tenant-ä".encode(), None)
    assert application.identity == ApplicationIdentity("tenant-ä", AuthType.DIRECT)
    assert not application.is_admin


@pytest.mark.threat("A1-S-1")
def test_direct_rejects_empty_and_non_utf8_names() -> None:
    assert status_of(DirectAuthenticator(), b"") is Status.AUTHENTICATION_ERROR
    assert status_of(DirectAuthenticator(), b"\xff\xfe") is Status.AUTHENTICATION_ERROR


def test_admins_match_by_exact_name() -> None:
    authenticator = DirectAuthenticator.from_config(AuthenticatorConfig("Direct", admins=("boss",)))
    assert authenticator.authenticate(b"boss", None).is_admin
    assert not authenticator.authenticate(b"Boss", None).is_admin
    assert not authenticator.authenticate(b"boss ", None).is_admin


def test_unix_peer_identity_is_the_decimal_uid() -> None:
    application = UnixPeerCredentialsAuthenticator().authenticate((1000).to_bytes(4, "little"), PEER)
    assert application.identity == ApplicationIdentity("1000", AuthType.UNIX_PEER_CREDENTIALS)


@pytest.mark.threat("A1-S-1")
@pytest.mark.parametrize(
    ("auth", "peer"),
    [
        ((1001).to_bytes(4, "little"), PEER),  # claims another user's UID
        ((1000).to_bytes(4, "big"), PEER),  # right UID, wrong byte order
        (b"\xe8\x03\x00", PEER),  # 3 bytes
        (b"\xe8\x03\x00\x00\x00", PEER),  # 5 bytes
        (b"", PEER),
        ((1000).to_bytes(4, "little"), None),  # no peer credentials on the connection
    ],
)
def test_unix_peer_rejects_anything_but_the_kernels_uid(auth: bytes, peer: PeerCredentials | None) -> None:
    assert status_of(UnixPeerCredentialsAuthenticator(), auth, peer) is Status.AUTHENTICATION_ERROR


def test_descriptions_are_parsecs() -> None:
    direct = DirectAuthenticator().describe()
    peer = UnixPeerCredentialsAuthenticator().describe()
    assert (direct.id, direct.version_maj, direct.version_min, direct.version_rev) == (AuthType.DIRECT, 0, 1, 0)
    assert direct.description.startswith("Directly parses the authentication field as a UTF-8 string")
    assert peer.id == AuthType.UNIX_PEER_CREDENTIALS
    assert peer.description.startswith("Uses Unix peer credentials to authenticate the client.")


def test_registry_names_are_parsecs_config_names() -> None:
    assert AUTHENTICATOR_TYPES["Direct"] is DirectAuthenticator
    assert authenticator_class("UnixPeerCredentials") is UnixPeerCredentialsAuthenticator
    assert authenticator_class("JwtSvid").AUTH_TYPE is AuthType.JWT_SVID  # loaded when a config names it
    with pytest.raises(ConfigError) as caught:
        authenticator_class("Kerberos")
    assert caught.value.key == "authenticator.auth_type"
