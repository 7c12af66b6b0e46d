"""The identity provider's JWT signing keys: ES256 keys with key IDs, issuing JWT-SVIDs, rotation with a grace period.

Implements the seed's asset AS2 (the Identity Provider public key, sent to the service as the JWT bundle) and the
signing half of AS1 (the authentication token). A rotation makes a new key current and keeps the previous one in
the bundle for a grace period, so that tokens it signed stay valid until they expire; the grace period must
therefore be at least the JWT-SVID lifetime. A key can also be revoked at once (a suspected compromise): every
token it signed stops validating as soon as the service has the new bundle — the only revocation a JWT-SVID
deployment has (seed U-2).

The bundle is an RFC 7517 JWK set in SPIRE's layout (`use: "jwt-svid"`, `spiffe_sequence`); tokens are signed with
PyJWT, the JWT library the `spiffe` package itself validates with.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from refimpl.spiffe_api import SpiffeId

ALGORITHM = "ES256"
"""The JWS algorithm of every token this provider issues (ECDSA P-256 with SHA-256, SPIRE's default)."""

Clock = Callable[[], float]


@dataclass(frozen=True)
class SigningKey:
    """One ES256 key pair and the key ID (`kid`) that names it in token headers and in the bundle."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(kid=secrets.token_hex(16), private_key=ec.generate_private_key(ec.SECP256R1()))

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK, tagged for JWT-SVID use as SPIRE tags its bundle entries."""
        jwk: dict[str, str] = ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "jwt-svid"}


@dataclass(frozen=True)
class RetiredKey:
    """A key rotated out of signing: still in the bundle until `remove_at`, so its live tokens keep validating."""

    key: SigningKey
    remove_at: float


class KeyRing:
    """The current signing key and the retired keys still in the bundle; thread-safe, with change notification.

    Every change (rotation, revocation, removal of a retired key) increments `sequence` and wakes the callers of
    `wait_for_change`, which is how the Workload API server pushes a new bundle on its FetchJWTBundles streams.
    """

    def __init__(self, grace_period: float, clock: Clock = time.time) -> None:
        if grace_period < 0:
            raise ValueError(f"grace period must be zero or more seconds, not {grace_period}")
        self._grace_period = grace_period
        self._clock = clock
        self._changed = threading.Condition()
        self._current = SigningKey.generate()
        self._retired: tuple[RetiredKey, ...] = ()
        self._sequence = 1

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def sequence(self) -> int:
        with self._changed:
            return self._sequence

    @property
    def current(self) -> SigningKey:
        with self._changed:
            return self._current

    @property
    def kids(self) -> tuple[str, ...]:
        """The key IDs in the bundle, the current key first."""
        with self._changed:
            return (self._current.kid, *(retired.key.kid for retired in self._retired))

    def rotate(self) -> SigningKey:
        """Sign with a new key from now on; the old one stays in the bundle for the grace period."""
        with self._changed:
            retired = RetiredKey(self._current, self._clock() + self._grace_period)
            self._current = SigningKey.generate()
            self._retired = (*self._retired, retired)
            self._bump()
            return self._current

    def revoke(self, kid: str) -> None:
        """Remove a key from the bundle now (a suspected compromise). The current key is replaced first."""
        with self._changed:
            if kid == self._current.kid:
                self._current = SigningKey.generate()
            elif all(retired.key.kid != kid for retired in self._retired):
                raise KeyError(f"no key {kid!r} in the bundle; the bundle holds {', '.join(self.kids)}")
            self._retired = tuple(retired for retired in self._retired if retired.key.kid != kid)
            self._bump()

    def prune(self) -> bool:
        """Drop the retired keys whose grace period is over; True if the bundle changed."""
        with self._changed:
            now = self._clock()
            kept = tuple(retired for retired in self._retired if retired.remove_at > now)
            if len(kept) == len(self._retired):
                return False
            self._retired = kept
            self._bump()
            return True

    def bundle(self) -> tuple[int, bytes]:
        """The JWT bundle (a JWK set, UTF-8 JSON) and the sequence number it belongs to, read atomically."""
        with self._changed:
            keys = [self._current.public_jwk(), *(retired.key.public_jwk() for retired in self._retired)]
            document = {"keys": keys, "spiffe_sequence": self._sequence}
            return self._sequence, json.dumps(document).encode()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until `sequence` differs from `seen` or `timeout` seconds pass; returns the sequence."""
        with self._changed:
            self._changed.wait_for(lambda: self._sequence != seen, timeout)
            return self._sequence

    def wake_all(self) -> None:
        """Wake every waiter without a change (the server is stopping)."""
        with self._changed:
            self._changed.notify_all()

    def issue(self, subject: SpiffeId, audience: Sequence[str], ttl: float) -> str:
        """A JWT-SVID for `subject`, signed with the current key, valid for `ttl` seconds from now."""
        if not audience:
            raise ValueError("a JWT-SVID needs at least one audience")
        now = self._clock()
        claims = {"sub": str(subject), "aud": list(audience), "iat": int(now), "exp": int(now + ttl)}
        key = self.current
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})

    def _bump(self) -> None:
        self._sequence += 1
        self._changed.notify_all()
