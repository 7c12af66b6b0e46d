"""The JwtSvid authenticator against the token threats of attackers A1 (client request) and A2 (service response).

Tokens come from the real identity provider over its real Unix socket, or are forged with the tools an attacker
has (their own keys, hand-built JWS). Every refused token must give the client the same `AuthenticationError` (M-1)
with the reason in the log only, and must be refused by the identity provider's own ValidateJWTSVID too: the check
that validating locally against the streamed bundle reaches Parsec's verdict (Parsec asks ValidateJWTSVID).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spiffe import WorkloadApiClient
from spiffe.workloadapi.errors import ValidateJwtSvidError

from refimpl.authenticators.base import AUTHENTICATOR_TYPES
from refimpl.authenticators.jwt_svid import FailureCounter, FailureLimit, JwtSvidAuthenticator
from refimpl.errors import ParsecError
from refimpl.front.listener import PeerCredentials
from refimpl.identity import ApplicationIdentity
from refimpl.identity_provider.server import WorkloadApiServer
from refimpl.ids import AuthType, Status
from refimpl.operations import AuthenticatorInfo
from tests.identity_provider.parts import (
    OTHER_UID,
    TENANT_A,
    TENANT_B,
    WAIT,
    captured_logs,
    fetch_token,
    messages,
    running_idp,
)
from tests.identity_provider.tokens import REFUSED_TOKENS, forged_with_own_key

PEER = PeerCredentials(pid=os.getpid(), uid=os.getuid(), gid=os.getgid())
ATTACKER = PeerCredentials(pid=1, uid=OTHER_UID, gid=OTHER_UID)


def test_the_authenticator_is_parsecs_jwt_svid_authenticator(authenticator: JwtSvidAuthenticator) -> None:
    assert AUTHENTICATOR_TYPES["JwtSvid"] is JwtSvidAuthenticator
    assert authenticator.describe() == AuthenticatorInfo(
        "Authenticator validating a JWT SPIFFE Verifiable Identity Document", 0, 1, 0, AuthType.JWT_SVID
    )


def test_a_valid_token_authenticates_as_its_spiffe_id(idp: WorkloadApiServer) -> None:
    authenticator = JwtSvidAuthenticator(idp.endpoint, admins=frozenset({TENANT_B}))
    try:
        assert authenticator.watcher.wait_for(lambda bundles: bundles is not None, WAIT)
        tenant_a = authenticator.authenticate(fetch_token(idp.endpoint, TENANT_A).encode(), PEER)
        tenant_b = authenticator.authenticate(fetch_token(idp.endpoint, TENANT_B).encode(), PEER)
    finally:
        authenticator.close()
    assert tenant_a.identity == ApplicationIdentity(TENANT_A, int(AuthType.JWT_SVID))
    assert not tenant_a.is_admin
    assert tenant_b.identity == ApplicationIdentity(TENANT_B, int(AuthType.JWT_SVID))
    assert tenant_b.is_admin


def test_an_auth_field_that_is_not_utf8_is_invalid_encoding(authenticator: JwtSvidAuthenticator) -> None:
    with pytest.raises(ParsecError) as refused:
        authenticator.identify(b"\xff\xfe.not.utf8", PEER)
    assert refused.value.status == Status.INVALID_ENCODING
    assert authenticator.failures.failures(PEER.uid) == 0


@pytest.mark.parametrize("make_token", REFUSED_TOKENS)
def test_a_bad_token_is_refused_by_the_authenticator_and_by_the_identity_provider(
    idp: WorkloadApiServer, authenticator: JwtSvidAuthenticator, make_token: Callable[[WorkloadApiServer], str]
) -> None:
    token = make_token(idp)
    with captured_logs() as records, pytest.raises(ParsecError) as refused:
        authenticator.identify(token.encode(), PEER)
    assert refused.value.status == Status.AUTHENTICATION_ERROR
    assert refused.value.detail.startswith("JWT-SVID refused: ")
    assert token not in refused.value.detail and all(token not in message for message in messages(records))
    with WorkloadApiClient(idp.endpoint, default_timeout=10) as client, pytest.raises(ValidateJwtSvidError):
        client.validate_jwt_svid(token, "parsec")


@pytest.mark.threat("A2-I-2", "M-1")
def test_every_refusal_looks_the_same_to_the_client(
    idp: WorkloadApiServer, authenticator: JwtSvidAuthenticator
) -> None:
    """The status is the only thing a client sees: it must not tell a forgery from an expiry or a wrong audience."""
    authenticator.failures = FailureCounter(FailureLimit(max_failures=100))
    outcomes = set()
    for case in REFUSED_TOKENS:
        (make_token,) = case.values
        try:
            authenticator.identify(make_token(idp).encode(), PEER)  # type: ignore[operator]
        except ParsecError as error:
            outcomes.add(error.status)
    assert outcomes == {Status.AUTHENTICATION_ERROR}


@pytest.mark.threat("A1-S-1", "U-2")
def test_a_stolen_token_works_from_any_peer_until_it_expires(socket_dir: Path) -> None:
    """U-2, stated: the service cannot tell a thief from the owner; the token's lifetime bounds the damage."""
    with running_idp(socket_dir / "agent.sock", svid_ttl=4) as idp:
        authenticator = JwtSvidAuthenticator(idp.endpoint)
        try:
            assert authenticator.watcher.wait_for(lambda bundles: bundles is not None, WAIT)
            stolen = fetch_token(idp.endpoint, TENANT_A)
            expiry = jwt.decode(stolen, options={"verify_signature": False})["exp"]
            assert authenticator.identify(stolen.encode(), ATTACKER).name == TENANT_A
            while time.time() <= expiry + 1:
                time.sleep(0.2)
            with pytest.raises(ParsecError) as refused:
                authenticator.identify(stolen.encode(), ATTACKER)
        finally:
            authenticator.close()
    assert refused.value.status == Status.AUTHENTICATION_ERROR
    assert "expired" in refused.value.detail.lower()


@pytest.mark.threat("A1-S-1", "U-2")
def test_a_key_rotated_out_of_the_bundle_stops_validating(
    idp: WorkloadApiServer, authenticator: JwtSvidAuthenticator
) -> None:
    """Rotation keeps old tokens valid for the grace period; removing the key is the revocation U-2 asks for."""
    old_token = fetch_token(idp.endpoint, TENANT_A).encode()
    old_kid = idp.keys.current.kid
    new_kid = idp.keys.rotate().kid

    def trusted(kid: str) -> Callable[[object], bool]:
        return lambda bundles: (
            bundles is not None
            and any(
                kid in bundle.jwt_authorities
                for bundle in bundles.bundles  # type: ignore[attr-defined]
            )
        )

    assert authenticator.watcher.wait_for(trusted(new_kid), WAIT)
    assert authenticator.identify(old_token, PEER).name == TENANT_A  # within the grace period
    new_token = fetch_token(idp.endpoint, TENANT_A).encode()
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid

    idp.keys.revoke(old_kid)
    assert authenticator.watcher.wait_for(lambda bundles: not trusted(old_kid)(bundles), WAIT)
    with pytest.raises(ParsecError) as refused:
        authenticator.identify(old_token, PEER)
    assert refused.value.status == Status.AUTHENTICATION_ERROR
    assert authenticator.identify(new_token, PEER).name == TENANT_A


@pytest.mark.threat("A1-S-2", "M-2")
def test_failed_attempts_are_counted_and_bounded_per_peer(
    idp: WorkloadApiServer, authenticator: JwtSvidAuthenticator
) -> None:
    """Parsec#176's failure counter: after `max_failures` refusals in a window, a peer's tokens are not evaluated."""
    now = [1000.0]
    limit = FailureLimit(max_failures=5, window=60)
    authenticator.failures = FailureCounter(limit, clock=lambda: now[0])
    valid = fetch_token(idp.endpoint, TENANT_A).encode()

    evaluated = locked = 0
    with captured_logs() as records:
        for _ in range(1000):
            try:
                authenticator.identify(forged_with_own_key(idp).encode(), ATTACKER)
            except ParsecError as error:
                assert error.status == Status.AUTHENTICATION_ERROR
                evaluated += error.detail.startswith("JWT-SVID refused")
                locked += error.detail.startswith("JWT-SVID not evaluated")
    assert (evaluated, locked) == (5, 995)
    assert any("reached 5 refused JWT-SVIDs" in message for message in messages(records))

    with pytest.raises(ParsecError, match="not evaluated"):
        authenticator.identify(valid, ATTACKER)  # even a right guess gets no answer while locked out
    assert authenticator.identify(valid, PEER).name == TENANT_A  # other peers are not affected

    now[0] += 60
    assert authenticator.identify(valid, ATTACKER).name == TENANT_A  # the window has passed


@pytest.mark.threat("A1-S-2", "M-2", "A1-E-1", "A1-D-2", "M-5")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    auth=st.one_of(
        st.binary(max_size=600),
        st.text(max_size=300).map(str.encode),
        st.lists(
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=120),
            min_size=1,
            max_size=5,
        ).map(lambda parts: ".".join(parts).encode()),
    )
)
def test_no_guessed_auth_field_authenticates_or_crashes(authenticator: JwtSvidAuthenticator, auth: bytes) -> None:
    """Brute force gets nowhere, and no auth field makes the authenticator raise anything but a Parsec status."""
    authenticator.failures = FailureCounter(FailureLimit(max_failures=10**9))
    with pytest.raises(ParsecError) as refused:
        authenticator.identify(auth, PEER)
    assert refused.value.status in {Status.AUTHENTICATION_ERROR, Status.INVALID_ENCODING}


def test_concurrent_callers_share_one_authenticator(
    idp: WorkloadApiServer, authenticator: JwtSvidAuthenticator
) -> None:
    """`authenticate` runs on many worker threads at once; every thread gets its own, right answer."""
    tokens = {tenant: fetch_token(idp.endpoint, tenant).encode() for tenant in (TENANT_A, TENANT_B)}
    results: list[str] = []
    lock = threading.Lock()

    def worker(tenant: str) -> None:
        for _ in range(20):
            name = authenticator.identify(tokens[tenant], PEER).name
            with lock:
                results.append(f"{tenant}={name}")

    threads = [threading.Thread(target=worker, args=(tenant,)) for tenant in (TENANT_A, TENANT_B) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert sorted(set(results)) == [f"{TENANT_A}={TENANT_A}", f"{TENANT_B}={TENANT_B}"]
    assert len(results) == 160
