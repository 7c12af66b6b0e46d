"""The JwtSvid authenticator against attacker A10, who sits between the identity provider and the service.

A10-D-1: the Workload API goes away — JwtSvid requests are refused at once (never hang), the log says so, and
authentication comes back with the Workload API. A10-D-2 / A10-E-1: a malformed bundle is refused without a crash
and without trusting any of it (M-5). A10-S-1 / A10-R-1: whoever answers at `workload_endpoint` is trusted, which
is why O-7 exists; the service logs every bundle's trust domain and key IDs so the administrator can check them.
A10-T-1: the bundle travels only over a Unix socket (M-3); any other endpoint is a configuration error.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm
from spiffe import JwtBundleSet, SpiffeId

from refimpl.authenticators.jwt_svid import BundleWatcher, JwtSvidAuthenticator, validate_jwt_svid
from refimpl.config import AuthenticatorConfig
from refimpl.errors import ConfigError, ParsecError
from refimpl.front.listener import PeerCredentials
from refimpl.identity_provider.keys import KeyRing
from refimpl.ids import Status
from tests.identity_provider.parts import (
    TENANT_A,
    WAIT,
    HostileWorkloadApi,
    captured_logs,
    fetch_token,
    messages,
    running_hostile_idp,
    running_idp,
)

PEER = PeerCredentials(pid=1, uid=1000, gid=1000)
DOMAIN_ID = "spiffe://example.org"


def trusts(kid: str) -> Callable[[JwtBundleSet | None], bool]:
    return lambda bundles: bundles is not None and any(kid in bundle.jwt_authorities for bundle in bundles.bundles)


def refuse_in_time(authenticator: JwtSvidAuthenticator, token: str) -> ParsecError:
    """Authenticate on another thread and require an answer within WAIT seconds: an outage must not hang requests."""
    outcome: list[BaseException | str] = []

    def attempt() -> None:
        try:
            outcome.append(authenticator.identify(token.encode(), PEER).name)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(WAIT)
    assert outcome, f"authentication did not answer within {WAIT} s while the Workload API was unavailable"
    (result,) = outcome
    assert isinstance(result, ParsecError), f"expected a refusal, got {result!r}"
    assert result.status == Status.AUTHENTICATION_ERROR
    return result


@pytest.mark.threat("A10-D-1", "M-3")
def test_while_the_workload_api_is_down_requests_are_refused_at_once_and_the_log_says_so(socket_dir: Path) -> None:
    path = socket_dir / "agent.sock"
    with captured_logs() as records:
        with running_idp(path) as first:
            authenticator = JwtSvidAuthenticator(first.endpoint)
            assert authenticator.watcher.wait_for(lambda bundles: bundles is not None, WAIT)
            old_token = fetch_token(first.endpoint, TENANT_A)
            assert authenticator.identify(old_token.encode(), PEER).name == TENANT_A
        try:
            assert authenticator.watcher.wait_for(lambda bundles: bundles is None, WAIT)
            refusal = refuse_in_time(authenticator, old_token)
            assert "no trusted JWT bundle from the Workload API at unix://" in refusal.detail
            assert authenticator.failures.failures(PEER.uid) == 0, "an outage is not the caller's failed guess"
            outage = [m for m in messages(records, logging.ERROR) if "is unavailable" in m]
            assert outage and "other requests are served" in outage[0]

            with running_idp(path) as second:  # the agent restarts (with new keys) at the same socket
                assert authenticator.watcher.wait_for(lambda bundles: bundles is not None, WAIT)
                assert authenticator.identify(fetch_token(second.endpoint, TENANT_A).encode(), PEER).name == TENANT_A
                refuse_in_time(authenticator, old_token)  # signed by a key the new bundle does not hold
        finally:
            authenticator.close()
    assert any(m.startswith("received JWT bundles") for m in messages(records, logging.INFO))


@pytest.mark.threat("A10-D-1", "M-3")
def test_the_service_may_start_before_the_identity_provider(socket_dir: Path) -> None:
    path = socket_dir / "agent.sock"
    authenticator = JwtSvidAuthenticator(f"unix://{path}")
    try:
        refusal = refuse_in_time(authenticator, "a.b.c")
        assert "no trusted JWT bundle" in refusal.detail
        with running_idp(path) as idp:
            assert authenticator.watcher.wait_for(lambda bundles: bundles is not None, WAIT)
            assert authenticator.identify(fetch_token(idp.endpoint, TENANT_A).encode(), PEER).name == TENANT_A
    finally:
        authenticator.close()


@pytest.mark.threat("A10-T-1", "M-3")
@pytest.mark.parametrize(
    "endpoint", ["tcp://127.0.0.1:8081", "unix:relative/agent.sock", "http://localhost/agent", "/run/agent.sock"]
)
def test_a_workload_endpoint_that_is_not_a_unix_socket_is_a_config_error(endpoint: str) -> None:
    with pytest.raises(ConfigError) as error:
        JwtSvidAuthenticator.from_config(AuthenticatorConfig("JwtSvid", (), endpoint))
    assert error.value.key == "authenticator.workload_endpoint"
    assert "unix:///" in error.value.message


def test_a_jwt_svid_config_without_workload_endpoint_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="workload_endpoint: is required"):
        JwtSvidAuthenticator.from_config(AuthenticatorConfig("JwtSvid"))


@pytest.fixture
def hostile(socket_dir: Path) -> Iterator[HostileWorkloadApi]:
    with running_hostile_idp(socket_dir / "agent.sock") as servicer:
        yield servicer


def ec_jwk(**overrides: object) -> dict[str, object]:
    jwk: dict[str, object] = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    return {**jwk, "kid": "attacker", **overrides}


def jwks(*keys: dict[str, object]) -> bytes:
    return json.dumps({"keys": list(keys)}).encode()


MALFORMED_BUNDLES: dict[str, dict[str, bytes]] = {
    "not-json": {DOMAIN_ID: b"{{{"},
    "empty": {DOMAIN_ID: b""},
    "not-utf8": {DOMAIN_ID: b"\xff\xfe\xfd"},
    "keys-not-a-list": {DOMAIN_ID: b'{"keys": 5}'},
    "json-array": {DOMAIN_ID: b"[1, 2, 3]"},
    "deeply-nested": {DOMAIN_ID: b"[" * 100_000},
    "key-without-kid": {DOMAIN_ID: jwks(ec_jwk(kid=None))},
    "point-not-on-curve": {DOMAIN_ID: jwks(ec_jwk(x="AAAA", y="AAAA"))},
    "unknown-key-type": {DOMAIN_ID: jwks({"kty": "XYZ", "kid": "k"})},
    "rsa-zero-modulus": {DOMAIN_ID: jwks({"kty": "RSA", "kid": "k", "n": "AA", "e": "AQAB"})},
    "rsa-huge-exponent": {DOMAIN_ID: jwks({"kty": "RSA", "kid": "k", "n": "AQAB", "e": "_" * 50_000})},
    "invalid-trust-domain": {"spiffe://Not A Domain!": jwks(ec_jwk())},
    "oversized": {DOMAIN_ID: jwks(*(ec_jwk(kid=f"k{i}") for i in range(20_000)))},
}


@pytest.mark.threat("A10-D-2", "A10-E-1", "M-5", "U-3")
@pytest.mark.parametrize("name", sorted(MALFORMED_BUNDLES))
def test_a_malformed_bundle_is_refused_without_a_crash(
    hostile: HostileWorkloadApi, socket_dir: Path, name: str
) -> None:
    ring = KeyRing(grace_period=600)
    token = ring.issue(SpiffeId(TENANT_A), ["parsec"], ttl=300)
    good = {DOMAIN_ID: ring.bundle()[1]}
    hostile.serve(good)
    authenticator = JwtSvidAuthenticator(f"unix://{socket_dir / 'agent.sock'}")
    try:
        assert authenticator.watcher.wait_for(trusts(ring.current.kid), WAIT)
        assert authenticator.identify(token.encode(), PEER).name == TENANT_A

        version = hostile.serve(MALFORMED_BUNDLES[name])
        assert hostile.wait_sent(version), "the hostile Workload API never sent the malformed bundle"
        assert authenticator.watcher.wait_for(lambda bundles: not trusts(ring.current.kid)(bundles), WAIT)
        with pytest.raises(ParsecError) as refused:
            authenticator.identify(token.encode(), PEER)
        assert refused.value.status == Status.AUTHENTICATION_ERROR

        hostile.serve(good)  # the watcher survived: a good bundle is trusted again
        assert authenticator.watcher.wait_for(trusts(ring.current.kid), WAIT)
        assert authenticator.identify(token.encode(), PEER).name == TENANT_A
    finally:
        authenticator.close()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
JWK_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "kty": st.sampled_from(["EC", "RSA", "OKP", "oct", "XYZ"]) | st.text(max_size=5),
        "crv": st.sampled_from(["P-256", "P-384", "P-521", "Ed25519", "secp256k1"]) | st.text(max_size=5),
        "kid": st.text(max_size=10) | st.integers(),
        "x": st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=90),
        "y": st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=90),
        "n": st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=90),
        "e": st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=12),
        "use": st.sampled_from(["jwt-svid", "sig", "enc"]) | JSON,
    },
)
BUNDLE_BYTES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.lists(JWK_FIELDS, max_size=4).map(lambda keys: json.dumps({"keys": keys}).encode()),
)
TRUST_DOMAIN_KEYS = st.sampled_from([DOMAIN_ID, "example.org", "spiffe://other.org"]) | st.text(max_size=20)


@pytest.mark.threat("A10-D-2", "A10-E-1", "M-5", "U-3")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bundles=st.dictionaries(TRUST_DOMAIN_KEYS, BUNDLE_BYTES, min_size=1, max_size=3))
def test_no_bundle_an_attacker_sends_stops_the_watcher(
    hostile: HostileWorkloadApi, socket_dir: Path, bundles: dict[str, bytes]
) -> None:
    """Whatever bytes arrive, the watcher keeps following the stream: the next good bundle is trusted."""
    ring = KeyRing(grace_period=600)
    watcher = BundleWatcher(f"unix://{socket_dir / 'agent.sock'}", reconnect_delay=0.01, max_reconnect_delay=0.05)
    try:
        version = hostile.serve(bundles)
        assert hostile.wait_sent(version)
        hostile.serve({DOMAIN_ID: ring.bundle()[1]})
        assert watcher.wait_for(trusts(ring.current.kid), WAIT), f"the watcher stopped after {bundles!r}"
        trusted, _ = watcher.bundles()
        assert trusted is not None
        token = ring.issue(SpiffeId(TENANT_A), ["parsec"], ttl=300)
        assert str(validate_jwt_svid(token, trusted).spiffe_id) == TENANT_A
    finally:
        watcher.close()


@pytest.mark.threat("A10-S-1", "A10-R-1", "O-7")
def test_whoever_answers_at_the_endpoint_is_trusted_so_every_bundle_is_logged(
    hostile: HostileWorkloadApi, socket_dir: Path
) -> None:
    """Stated, not mitigated in code: a rogue agent at `workload_endpoint` mints any identity it likes. O-7's
    boot-time check by the administrator is the mitigation; the INFO line naming each key ID is what it checks."""
    rogue = KeyRing(grace_period=600)
    hostile.serve({DOMAIN_ID: rogue.bundle()[1]})
    with captured_logs() as records:
        authenticator = JwtSvidAuthenticator(f"unix://{socket_dir / 'agent.sock'}")
        try:
            assert authenticator.watcher.wait_for(trusts(rogue.current.kid), WAIT)
            minted = rogue.issue(SpiffeId(TENANT_A), ["parsec"], ttl=300)
            assert authenticator.identify(minted.encode(), PEER).name == TENANT_A
        finally:
            authenticator.close()
    logged = [m for m in messages(records, logging.INFO) if m.startswith("received JWT bundles")]
    assert logged and f"example.org: keys {rogue.current.kid}" in logged[0]
    assert f"unix://{socket_dir / 'agent.sock'}" in logged[0]
