"""The py-spiffe names this service uses, imported in one place.

py-spiffe's `spiffe.bundle.jwt_bundle.jwt_bundle` names `dsa.DSAPublicKey` in a type alias at import time, and
`cryptography` 51 deprecates DSA: every process that imports `spiffe` would print a CryptographyDeprecationWarning
on stderr although nothing here uses DSA (JWT-SVIDs are ES256/RS256, SPIFFE's JWT-SVID specification). The filter
below is scoped to that one warning, from that one module, for the duration of this import; every other warning
keeps its usual treatment. Import py-spiffe's names from here, not from `spiffe`, so the import happens here first.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"DSA is deprecated",
        module=r"spiffe\.bundle\.jwt_bundle\.jwt_bundle",
    )
    from spiffe import JwtBundle, JwtBundleSet, JwtSvid, SpiffeId, TrustDomain, WorkloadApiClient
    from spiffe._proto import workload_pb2, workload_pb2_grpc
    from spiffe.errors import PySpiffeError

__all__ = [
    "JwtBundle",
    "JwtBundleSet",
    "JwtSvid",
    "PySpiffeError",
    "SpiffeId",
    "TrustDomain",
    "WorkloadApiClient",
    "workload_pb2",
    "workload_pb2_grpc",
]
