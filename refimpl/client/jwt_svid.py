"""Client-side JwtSvid authentication: fetch a JWT-SVID for audience "parsec" from the SPIFFE Workload API.

Parsec's client `Authentication::JwtSvid` (cli:src/auth.rs; parsec-facts §1.3): the token comes from the Workload
API found through `SPIFFE_ENDPOINT_SOCKET` (or an endpoint given here), and is sent as the request's auth field in
UTF-8. A token is reused until half its lifetime has passed, so a burst of requests costs one Workload API call,
and a token is never sent within the last half of its life, when the service may see it expire in flight.
A workload entitled to several SPIFFE IDs names the one it wants with `spiffe_id` (the Workload API's subject).
"""

from __future__ import annotations

import threading
import time

from refimpl.client.auth import JWT_SVID_AUDIENCE
from refimpl.ids import AuthType
from refimpl.spiffe_api import JwtSvid, PySpiffeError, SpiffeId, WorkloadApiClient


class WorkloadApiUnavailable(Exception):
    """No JWT-SVID could be fetched; the message says where the client looked and what to check."""


class JwtSvidAuthentication:
    """The `Authentication` (refimpl.client.auth) of a client proving its SPIFFE ID with a JWT-SVID (auth type 4).

    Also a `token_source` for `refimpl.client.auth.JwtSvid`: calling it with the audience "parsec" gives the token.
    """

    auth_type = AuthType.JWT_SVID

    def __init__(self, endpoint: str | None = None, spiffe_id: str | None = None, timeout: float = 5.0) -> None:
        self._endpoint = endpoint
        self._subject = SpiffeId(spiffe_id) if spiffe_id else None
        self._timeout = timeout
        self._client: WorkloadApiClient | None = None
        self._cached: JwtSvid | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()

    def auth_bytes(self) -> bytes:
        return self.token().encode("utf-8")

    def __call__(self, audience: str) -> str:
        if audience != JWT_SVID_AUDIENCE:
            raise ValueError(f"this source fetches tokens for audience {JWT_SVID_AUDIENCE!r} only, not {audience!r}")
        return self.token()

    def token(self) -> str:
        """A JWT-SVID with at least half its lifetime left, fetched from the Workload API when needed."""
        with self._lock:
            now = time.time()
            if self._cached is None or now >= self._refresh_at:
                self._cached = self._fetch()
                self._refresh_at = now + (self._cached.expiry - now) / 2
            return self._cached.token

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _fetch(self) -> JwtSvid:
        try:
            if self._client is None:
                self._client = WorkloadApiClient(self._endpoint, default_timeout=self._timeout)
            return self._client.fetch_jwt_svid({JWT_SVID_AUDIENCE}, self._subject)
        except PySpiffeError as error:
            where = self._endpoint or "$SPIFFE_ENDPOINT_SOCKET"
            wanted = f" for {self._subject}" if self._subject else ""
            raise WorkloadApiUnavailable(
                f"no JWT-SVID{wanted} from the Workload API at {where}: {error}. Check that the agent runs there and "
                "that this process's Unix user is registered with it"
            ) from error
