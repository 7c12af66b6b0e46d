"""The identity provider's signing keys: the bundle the service trusts, rotation with a grace period, revocation."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from spiffe import JwtBundle, JwtSvid, SpiffeId, TrustDomain
from spiffe.bundle.jwt_bundle.errors import AuthorityNotFoundError

from refimpl.identity_provider.keys import KeyRing

SUBJECT = SpiffeId("spiffe://example.org/tenant-a")
DOMAIN = TrustDomain("example.org")


class Clock:
    """Time the test moves by hand (from now): the key ring's grace periods are checked without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def bundle_of(ring: KeyRing) -> JwtBundle:
    return JwtBundle.parse(DOMAIN, ring.bundle()[1])


def test_issued_token_is_an_es256_jwt_svid_that_validates_against_the_bundle() -> None:
    ring = KeyRing(grace_period=600)
    token = ring.issue(SUBJECT, ["parsec"], ttl=60)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": ring.current.kid, "typ": "JWT"}
    svid = JwtSvid.parse_and_validate(token, bundle_of(ring), {"parsec"})
    assert svid.spiffe_id == SUBJECT
    assert svid.audience == {"parsec"}


def test_bundle_is_a_spire_style_jwk_set() -> None:
    ring = KeyRing(grace_period=600)
    document = json.loads(ring.bundle()[1])
    assert document["spiffe_sequence"] == ring.sequence
    (key,) = document["keys"]
    assert key["kid"] == ring.current.kid
    assert key["use"] == "jwt-svid"
    assert (key["kty"], key["crv"]) == ("EC", "P-256")
    assert "d" not in key, "the bundle must never carry the private key"


def test_rotation_keeps_the_old_key_for_the_grace_period_then_removes_it() -> None:
    clock = Clock()
    ring = KeyRing(grace_period=600, clock=clock)
    old_token = ring.issue(SUBJECT, ["parsec"], ttl=10**6)
    old_kid = ring.current.kid
    new_key = ring.rotate()
    assert new_key.kid != old_kid
    assert ring.kids == (new_key.kid, old_kid)
    assert jwt.get_unverified_header(ring.issue(SUBJECT, ["parsec"], ttl=60))["kid"] == new_key.kid

    clock.now += 599
    assert not ring.prune()
    JwtSvid.parse_and_validate(old_token, bundle_of(ring), {"parsec"})

    clock.now += 1
    assert ring.prune()
    assert ring.kids == (new_key.kid,)
    with pytest.raises(AuthorityNotFoundError):
        JwtSvid.parse_and_validate(old_token, bundle_of(ring), {"parsec"})


def test_revoking_a_key_removes_it_at_once_and_replaces_the_current_one() -> None:
    ring = KeyRing(grace_period=600)
    compromised = ring.current.kid
    before = ring.sequence
    ring.revoke(compromised)
    assert compromised not in ring.kids
    assert ring.current.kid != compromised
    assert ring.sequence > before
    with pytest.raises(KeyError, match="no key 'nope' in the bundle"):
        ring.revoke("nope")


def test_every_change_wakes_the_bundle_streams() -> None:
    ring = KeyRing(grace_period=0)
    seen = ring.sequence
    assert ring.wait_for_change(seen, timeout=0) == seen
    ring.rotate()
    assert ring.wait_for_change(seen, timeout=0) == seen + 1
