"""Which callers get which SPIFFE IDs: the identity provider's trust domain and its workload registrations.

The identity-provider half of the seed's AS1 (who may obtain an authentication token). As SPIRE's `unix` workload
attestor does, a caller is identified by the Unix peer credentials of its connection (`SO_PEERCRED`, read by the
kernel, not declared by the caller) and each registration selects callers by user ID or by primary group ID. One
caller may be entitled to several SPIFFE IDs (several registrations match), exactly as with SPIRE; it then names
the one it wants in FetchJWTSVID.

`PeerCredentials` is the service listener's noun (refimpl.front.listener): the kernel's (pid, uid, gid) of a peer.
A registration on the command line reads `uid:1000=spiffe://example.org/app`, `gid:100=spiffe://…`, or
`1000=spiffe://…` (a bare number is a uid).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from refimpl.front.listener import PeerCredentials
from refimpl.spiffe_api import PySpiffeError, SpiffeId, TrustDomain

SelectorKind = Literal["uid", "gid"]


@dataclass(frozen=True)
class Workload:
    """One registration: callers whose `kind` ID equals `value` are entitled to `spiffe_id`."""

    kind: SelectorKind
    value: int
    spiffe_id: SpiffeId

    def matches(self, peer: PeerCredentials) -> bool:
        return (peer.uid if self.kind == "uid" else peer.gid) == self.value

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}={self.spiffe_id}"


def parse_workload(text: str) -> Workload:
    """Parse `[uid:|gid:]N=spiffe://trust.domain/path`; the error says what is wrong and what is expected."""
    selector, sep, spiffe_id = text.partition("=")
    if not sep:
        raise ValueError(f"workload {text!r}: expected [uid:|gid:]N=spiffe://trust.domain/path")
    kind, colon, number = selector.partition(":")
    if not colon:
        kind, number = "uid", selector
    if kind not in ("uid", "gid"):
        raise ValueError(f"workload {text!r}: the selector must be uid:N or gid:N, not {selector!r}")
    if not (number.isascii() and number.isdigit() and int(number) < 2**32):
        raise ValueError(f"workload {text!r}: {kind} must be a decimal number below 2**32, not {number!r}")
    try:
        parsed_id = SpiffeId(spiffe_id)
    except PySpiffeError as error:
        raise ValueError(f"workload {text!r}: {error}") from error
    if not parsed_id.path:
        raise ValueError(
            f"workload {text!r}: a workload's SPIFFE ID needs a path (spiffe://{parsed_id.trust_domain}/…)"
        )
    return Workload(kind="uid" if kind == "uid" else "gid", value=int(number), spiffe_id=parsed_id)


@dataclass(frozen=True)
class Registry:
    """The trust domain and its registrations; every registered SPIFFE ID must belong to the trust domain."""

    trust_domain: TrustDomain
    workloads: tuple[Workload, ...]

    @classmethod
    def of(cls, trust_domain: str, workloads: Iterable[Workload]) -> Registry:
        try:
            domain = TrustDomain(trust_domain)
        except PySpiffeError as error:
            raise ValueError(f"trust domain {trust_domain!r}: {error}") from error
        registered = tuple(workloads)
        for workload in registered:
            if workload.spiffe_id.trust_domain != domain:
                raise ValueError(
                    f"workload {workload}: {workload.spiffe_id} is outside the trust domain {domain}; "
                    f"register spiffe://{domain}/… or serve that trust domain from its own identity provider"
                )
        return cls(trust_domain=domain, workloads=registered)

    def identities_for(self, peer: PeerCredentials) -> tuple[SpiffeId, ...]:
        """The SPIFFE IDs `peer` is entitled to, in registration order, without duplicates."""
        found: dict[str, SpiffeId] = {}
        for workload in self.workloads:
            if workload.matches(peer):
                found.setdefault(str(workload.spiffe_id), workload.spiffe_id)
        return tuple(found.values())
