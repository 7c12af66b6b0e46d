"""The JwtSvid authenticator (auth type 4): the auth field is a JWT-SVID, validated for audience "parsec".

Parsec's `JwtSvidAuthenticator` (svc:src/authenticators/jwt_svid_authenticator/mod.rs; parsec-facts §1.3, §4.3,
§5.3): the auth bytes are a JWS compact serialisation in UTF-8 (otherwise `InvalidEncoding`), the token must be a
valid JWT-SVID for audience `parsec` (otherwise `AuthenticationError`, the reason in the log only — M-1), and the
application is the token's SPIFFE ID. Validation is the `spiffe` package's (`JwtSvid.parse_and_validate`, which
refuses `alg: none` and every algorithm outside the JWT-SVID profile, wrong audiences, expired tokens, unknown key
IDs, bad signatures and subjects outside the bundle's trust domain) against the JWT bundles the Workload API at
`workload_endpoint` streams (FetchJWTBundles, `spiffe.WorkloadApiClient`).

Where this differs from Parsec, and why:
* Parsec asks the Workload API to validate each token (ValidateJWTSVID). Here the bundles are streamed and each
  token is checked locally, so a request costs no round trip, a rotated-out key stops validating as soon as the
  new bundle arrives, and a malformed bundle (A10-D-2, A10-E-1) meets this service's parser, which must refuse it
  without a crash (M-5). The verdict is the same: SPIRE's ValidateJWTSVID runs this check against the same bundle.
* Fail closed (A10-D-1): while the Workload API is unreachable, or after it sent a bundle that does not parse, no
  bundle is trusted and JwtSvid requests get `AuthenticationError` at once, without waiting for it; one ERROR line
  says so when it happens, an INFO line when bundles are back. Other requests are not affected.
* A failure counter per peer UID (M-2; Parsec's issue #176 was never built): once a peer has had `max_failures`
  tokens refused within `window` seconds (5 in 60 s unless the config's `max_failures` / `failure_window` say
  otherwise), its further tokens are refused without being evaluated until the oldest failure leaves the window,
  so guessing is bounded to `max_failures` evaluated attempts per window and per Unix user. Successes do not reset
  the count (a workload with one valid token must not buy itself more guesses); non-UTF-8 fields (InvalidEncoding)
  and refusals while no bundle is trusted are not the caller's guesses and do not count. Connections without peer
  credentials share one count. The counter is this authenticator's: requests of other configured authenticators
  (`[[authenticator]]`) are never limited by it.
* Every bundle update is logged with its trust domains and key IDs: the evidence the administrator's boot-time
  check of the trust bundle (O-7; A10-S-1, A10-R-1) needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlparse

from refimpl.authenticators.base import Authenticator, register_authenticator
from refimpl.config import AuthenticatorConfig
from refimpl.errors import ConfigError, ParsecError
from refimpl.front.listener import PeerCredentials
from refimpl.identity import ApplicationIdentity
from refimpl.ids import AuthType, Status
from refimpl.logs import quoted
from refimpl.spiffe_api import JwtBundleSet, JwtSvid, PySpiffeError, WorkloadApiClient

log = logging.getLogger(__name__)

AUDIENCE = "parsec"
"""The audience every JWT-SVID presented to Parsec must name (svc:src/authenticators/jwt_svid_authenticator)."""

_REASON_LIMIT = 200


class InvalidJwtSvid(Exception):
    """A token that does not prove an identity; the message says why (for the log, never for the client)."""


def validate_jwt_svid(token: str, bundles: JwtBundleSet, audience: str = AUDIENCE) -> JwtSvid:
    """The validated JWT-SVID, checked against the bundle of its subject's trust domain; `InvalidJwtSvid` otherwise."""
    try:
        claimed = JwtSvid.parse_insecure(token, {audience})
        bundle = bundles.get_bundle_for_trust_domain(claimed.spiffe_id.trust_domain)
        if bundle is None:
            raise InvalidJwtSvid(f"no JWT bundle for trust domain {claimed.spiffe_id.trust_domain}")
        return JwtSvid.parse_and_validate(token, bundle, {audience})
    except InvalidJwtSvid:
        raise
    except PySpiffeError as error:
        raise InvalidJwtSvid(str(error) or type(error).__name__) from None
    except Exception as error:  # attacker-chosen input the library did not anticipate is still just a bad token
        raise InvalidJwtSvid(f"malformed token ({type(error).__name__})") from None


@dataclass(frozen=True)
class FailureLimit:
    """At most `max_failures` refused tokens are evaluated per peer UID within any `window` seconds (M-2)."""

    max_failures: int = 5
    window: float = 60.0

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window <= 0:
            raise ValueError(f"failure limit needs max_failures >= 1 and window > 0, got {self}")


class FailureCounter:
    """Failed authentications per peer (UID; None for a connection without credentials) in a sliding window."""

    def __init__(self, limit: FailureLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._failures: dict[int | None, deque[float]] = {}
        self._lock = threading.Lock()

    def failures(self, peer: int | None) -> int:
        """How many failures of `peer` are inside the window now."""
        with self._lock:
            return len(self._recent(peer, self._clock()))

    def locked_out(self, peer: int | None) -> bool:
        return self.failures(peer) >= self.limit.max_failures

    def record_failure(self, peer: int | None) -> bool:
        """Count one failure; True if it is the one that reaches the limit."""
        with self._lock:
            now = self._clock()
            recent = self._recent(peer, now)
            recent.append(now)
            self._failures[peer] = recent
            return len(recent) == self.limit.max_failures

    def _recent(self, peer: int | None, now: float) -> deque[float]:
        recent = self._failures.get(peer, deque())
        while recent and recent[0] <= now - self.limit.window:
            recent.popleft()
        if not recent:
            self._failures.pop(peer, None)
        return recent


def socket_path_of(workload_endpoint: str, key: str = "authenticator.workload_endpoint") -> str:
    """The filesystem path of a `unix:` Workload API URI; a ConfigError naming `key` for anything else."""
    parsed = urlparse(workload_endpoint)
    if parsed.scheme != "unix" or not parsed.path.startswith("/") or parsed.netloc or parsed.query or parsed.fragment:
        raise ConfigError(
            key,
            f"{workload_endpoint!r} is not a Unix socket URI; write unix:///absolute/path/to/agent.sock "
            "(the Workload API must be reached over a Unix socket, M-3)",
        )
    return parsed.path


class BundleWatcher:
    """The JWT bundles currently trusted: those of the Workload API's last update, or None while it is unavailable.

    A background thread keeps one FetchJWTBundles stream open through `spiffe.WorkloadApiClient`; when the stream
    fails (the agent is down, the socket is missing, an update does not parse) the bundles are dropped and the
    thread reconnects with exponential back-off.
    """

    def __init__(
        self,
        workload_endpoint: str,
        reconnect_delay: float = 0.1,
        max_reconnect_delay: float = 5.0,
        key: str = "authenticator.workload_endpoint",
    ) -> None:
        socket_path_of(workload_endpoint, key)
        self.endpoint = workload_endpoint
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._changed = threading.Condition()
        self._bundles: JwtBundleSet | None = None
        self._problem = "no JWT bundle received yet"
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jwt-bundle-watcher", daemon=True)
        self._thread.start()

    def bundles(self) -> tuple[JwtBundleSet | None, str]:
        """The trusted bundles, or None and the reason there are none."""
        with self._changed:
            return self._bundles, self._problem

    def wait_for(self, condition: Callable[[JwtBundleSet | None], bool], timeout: float) -> bool:
        """Block until `condition(bundles)` holds (e.g. bundles arrived, a key left them) or `timeout` passes."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self._bundles), timeout)

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        delay = self._reconnect_delay
        while not self._stopped.is_set():
            if self._session():
                delay = self._reconnect_delay
            if self._stopped.wait(delay):
                return
            delay = min(2 * delay, self._max_reconnect_delay)

    def _session(self) -> bool:
        """One FetchJWTBundles stream, until it fails or the watcher closes; True if it delivered an update."""
        self._wake.clear()
        if self._stopped.is_set():
            return False
        received = threading.Event()
        try:
            client = WorkloadApiClient(self.endpoint)
        except PySpiffeError as error:
            self._drop(str(error))
            return False

        def on_update(bundles: JwtBundleSet) -> None:
            received.set()
            self._trust(bundles)

        def on_error(error: Exception) -> None:
            self._drop(str(error))
            self._wake.set()

        stream = client.stream_jwt_bundles(on_update, on_error, retry_connect=False)
        self._wake.wait()
        stream.cancel()
        client.close()
        return received.is_set()

    def _trust(self, bundles: JwtBundleSet) -> None:
        summary = "; ".join(
            f"{bundle.trust_domain}: keys {', '.join(sorted(bundle.jwt_authorities)) or 'none'}"
            for bundle in sorted(bundles.bundles, key=lambda bundle: bundle.trust_domain.name)
        )
        with self._changed:
            was_down = self._bundles is None
            self._bundles = bundles
            self._problem = ""
            self._changed.notify_all()
        verb = "received" if was_down else "updated"
        log.info("%s JWT bundles from the Workload API at %s: %s", verb, self.endpoint, summary)

    def _drop(self, problem: str) -> None:
        with self._changed:
            was_up = self._bundles is not None
            first_problem = self._problem != problem
            self._bundles = None
            self._problem = problem
            self._changed.notify_all()
        if was_up or first_problem:
            log.error(
                "the Workload API at %s is unavailable (%s): JwtSvid requests are refused until it is back; "
                "other requests are served",
                self.endpoint,
                problem,
            )
        else:
            log.debug("the Workload API at %s is still unavailable (%s)", self.endpoint, problem)


@register_authenticator("JwtSvid")
class JwtSvidAuthenticator(Authenticator):
    """Auth type 4: JWT-SVIDs for audience "parsec", checked against the Workload API's bundles; M-2 counter."""

    AUTH_TYPE = AuthType.JWT_SVID
    DESCRIPTION = "Authenticator validating a JWT SPIFFE Verifiable Identity Document"

    def __init__(
        self,
        workload_endpoint: str,
        admins: frozenset[str] = frozenset(),
        failure_limit: FailureLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
        endpoint_key: str = "authenticator.workload_endpoint",
    ) -> None:
        super().__init__(admins)
        self.watcher = BundleWatcher(workload_endpoint, key=endpoint_key)
        self.failures = FailureCounter(failure_limit or FailureLimit(), clock)

    @classmethod
    def from_config(cls, config: AuthenticatorConfig) -> Self:
        """Built from its `[authenticator]` (or `[[authenticator]]`) table; `max_failures` and `failure_window`
        override the defaults of the M-2 failure limit."""
        if not config.workload_endpoint:
            raise ConfigError(
                config.key("workload_endpoint"),
                'is required for auth_type = "JwtSvid"; e.g. workload_endpoint = "unix:///run/spire/sockets/agent.sock"',
            )
        default = FailureLimit()
        limit = FailureLimit(
            config.max_failures if config.max_failures is not None else default.max_failures,
            config.failure_window if config.failure_window is not None else default.window,
        )
        key = config.key("workload_endpoint")
        return cls(config.workload_endpoint, frozenset(config.admins), limit, endpoint_key=key)

    def identify(self, auth: bytes, peer: PeerCredentials | None) -> ApplicationIdentity:
        try:
            token = auth.decode("utf-8")
        except UnicodeDecodeError:
            raise ParsecError(Status.INVALID_ENCODING, "the JWT-SVID is not valid UTF-8") from None
        uid = peer.uid if peer is not None else None
        if self.failures.locked_out(uid):
            raise ParsecError(
                Status.AUTHENTICATION_ERROR,
                f"JWT-SVID not evaluated: uid {uid} has had {self.failures.limit.max_failures} tokens refused in the "
                f"last {self.failures.limit.window:g} s (M-2 failure limit)",
            )
        bundles, problem = self.watcher.bundles()
        if bundles is None:
            raise ParsecError(
                Status.AUTHENTICATION_ERROR,
                f"no trusted JWT bundle from the Workload API at {self.watcher.endpoint}: {problem}",
            )
        try:
            svid = validate_jwt_svid(token, bundles)
        except InvalidJwtSvid as refusal:
            if self.failures.record_failure(uid):
                log.warning(
                    "uid %s reached %d refused JWT-SVIDs within %g s: its tokens are not evaluated until the oldest "
                    "failure is %g s old (M-2)",
                    uid,
                    self.failures.limit.max_failures,
                    self.failures.limit.window,
                    self.failures.limit.window,
                )
            raise ParsecError(
                Status.AUTHENTICATION_ERROR, f"JWT-SVID refused: {quoted(str(refusal)[:_REASON_LIMIT])}"
            ) from None
        return ApplicationIdentity.of(str(svid.spiffe_id), AuthType.JWT_SVID)

    def close(self) -> None:
        """Stop following the Workload API (service shutdown or SIGHUP reload)."""
        self.watcher.close()
