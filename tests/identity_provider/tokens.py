"""The refused tokens of attackers A1 and A2, each made with the tools an attacker has, for a real identity provider.

Shared by the authenticator's own tests (tests/identity_provider/test_token_threats.py) and the end-to-end tests
that send them to a running service (tests/e2e/test_jwt_svid.py). Each factory takes the identity provider whose
trust domain the service trusts and returns a token in JWS compact form; `REFUSED_TOKENS` lists them as pytest
parameters marked with the threats they exercise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from refimpl.identity_provider.server import WorkloadApiServer
from refimpl.identity_provider.workloads import parse_workload
from refimpl.spiffe_api import SpiffeId, WorkloadApiClient
from tests.identity_provider.parts import TENANT_A, TENANT_B, fetch_token, running_idp


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(header: dict[str, object], claims: dict[str, object], sign: Callable[[bytes], bytes]) -> str:
    """A JWS compact serialisation built by hand, as an attacker would build one."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def claims(subject: str = TENANT_A, audience: str = "parsec", lifetime: int = 300) -> dict[str, object]:
    now = int(time.time())
    return {"sub": subject, "aud": [audience], "iat": now, "exp": now + lifetime}


def signed_by_idp(idp: WorkloadApiServer, token_claims: dict[str, object]) -> str:
    """A token carrying the identity provider's real signature over chosen claims (e.g. an old, expired one)."""
    key = idp.keys.current
    return jwt.encode(token_claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "JWT"})


def forged_with_own_key(idp: WorkloadApiServer) -> str:
    """The attacker's own P-256 key, the identity provider's key ID in the header."""
    attacker_key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims(), attacker_key, algorithm="ES256", headers={"kid": idp.keys.current.kid, "typ": "JWT"})


def alg_none(idp: WorkloadApiServer) -> str:
    return jws({"alg": "none", "kid": idp.keys.current.kid, "typ": "JWT"}, claims(), lambda _: b"")


def hs256_keyed_with_the_public_key(idp: WorkloadApiServer) -> str:
    """The algorithm-confusion forgery: HMAC keyed with the bundle's public key, which everyone can read."""
    public_pem = idp.keys.current.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header: dict[str, object] = {"alg": "HS256", "kid": idp.keys.current.kid, "typ": "JWT"}
    return jws(header, claims(), lambda data: hmac.new(public_pem, data, hashlib.sha256).digest())


def payload_swapped(idp: WorkloadApiServer) -> str:
    """A real token of tenant-a whose payload now names tenant-b, the signature kept."""
    header, _, signature = fetch_token(idp.endpoint, TENANT_A).split(".")
    return f"{header}.{b64url(json.dumps(claims(TENANT_B)).encode())}.{signature}"


def truncated(idp: WorkloadApiServer) -> str:
    return fetch_token(idp.endpoint, TENANT_A)[:-12]


def signature_removed(idp: WorkloadApiServer) -> str:
    header, payload, _ = fetch_token(idp.endpoint, TENANT_A).split(".")
    return f"{header}.{payload}."


def expired(idp: WorkloadApiServer) -> str:
    return signed_by_idp(idp, claims(lifetime=-60))


def for_another_audience(idp: WorkloadApiServer) -> str:
    with WorkloadApiClient(idp.endpoint, default_timeout=10) as client:
        return str(client.fetch_jwt_svid({"not-parsec"}, SpiffeId(TENANT_A)).token)


def from_another_trust_domain(idp: WorkloadApiServer) -> str:
    """A genuine token from another identity provider (trust domain other.org), whose bundle the service lacks."""
    other_socket = Path(idp.settings.socket_path).with_name("other.sock")
    me = os.getuid()
    with running_idp(
        other_socket, trust_domain="other.org", workloads=[parse_workload(f"{me}=spiffe://other.org/tenant-a")]
    ) as other:
        return fetch_token(other.endpoint, "spiffe://other.org/tenant-a")


def subject_outside_the_trust_domain(idp: WorkloadApiServer) -> str:
    """The right key signing for a subject in a trust domain it does not speak for."""
    return signed_by_idp(idp, claims("spiffe://other.org/tenant-a"))


REFUSED_TOKENS = [
    pytest.param(forged_with_own_key, id="forged", marks=pytest.mark.threat("A1-S-2", "M-2")),
    pytest.param(alg_none, id="alg-none", marks=pytest.mark.threat("A1-S-2", "M-2")),
    pytest.param(hs256_keyed_with_the_public_key, id="alg-confusion", marks=pytest.mark.threat("A1-S-2", "M-2")),
    pytest.param(payload_swapped, id="payload-swapped", marks=pytest.mark.threat("A1-S-2", "M-2")),
    pytest.param(truncated, id="truncated", marks=pytest.mark.threat("A1-S-2", "M-2", "A1-E-1", "M-5")),
    pytest.param(signature_removed, id="signature-removed", marks=pytest.mark.threat("A1-S-2", "M-2")),
    pytest.param(expired, id="expired", marks=pytest.mark.threat("A1-S-1", "U-2")),
    pytest.param(for_another_audience, id="wrong-audience", marks=pytest.mark.threat("A1-S-1", "U-2")),
    pytest.param(from_another_trust_domain, id="wrong-trust-domain", marks=pytest.mark.threat("A1-S-2", "M-2")),
    pytest.param(subject_outside_the_trust_domain, id="foreign-subject", marks=pytest.mark.threat("A1-S-2", "M-2")),
]
