"""The auth field each client authentication puts on the wire (parsec-facts §1.3), checked against the vectors."""

from __future__ import annotations

import os

from refimpl.client.auth import Direct, JwtSvid, NoAuth, UnixPeerCredentials
from refimpl.ids import AuthType
from tests.wire.vectors import entry_named, manifest


def test_direct_and_peer_credentials_match_the_golden_auth_fields() -> None:
    direct, peer = entry_named("ping.req.bin"), entry_named("ping.peer.req.bin")
    assert Direct(manifest()["auth"]["direct_app_name"]).auth_bytes().hex() == direct["auth_hex"]
    assert UnixPeerCredentials(manifest()["auth"]["peer_uid"]).auth_bytes().hex() == peer["auth_hex"]
    assert (Direct("x").auth_type, UnixPeerCredentials(0).auth_type) == (
        AuthType.DIRECT,
        AuthType.UNIX_PEER_CREDENTIALS,
    )


def test_peer_credentials_default_to_the_callers_uid() -> None:
    assert UnixPeerCredentials().auth_bytes() == os.getuid().to_bytes(4, "little")


def test_no_auth_sends_nothing() -> None:
    assert (NoAuth().auth_type, NoAuth().auth_bytes()) == (AuthType.NO_AUTH, b"")


def test_jwt_svid_asks_its_source_for_a_parsec_token_each_time() -> None:
    audiences: list[str] = []

    def source(audience: str) -> str:
        audiences.append(audience)
        return f"header.payload{len(audiences)}.signature"

    auth = JwtSvid(source)
    assert auth.auth_type is AuthType.JWT_SVID
    assert auth.auth_bytes() == b"header.payload1.signature"
    assert auth.auth_bytes() == b"header.payload2.signature"
    assert audiences == ["parsec", "parsec"]
