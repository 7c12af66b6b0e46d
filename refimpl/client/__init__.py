"""The client library: endpoint discovery, authentication data and `BasicClient` (parsec-client-rust in Python)."""

from refimpl.client.auth import Authentication, Direct, JwtSvid, NoAuth, UnixPeerCredentials
from refimpl.client.basic_client import (
    BasicClient,
    ClientError,
    InvalidResponse,
    NoUsableAuthenticator,
    ServiceUnreachable,
)
from refimpl.client.endpoint import Endpoint, EndpointError, endpoint_from_env, parse_endpoint

__all__ = [
    "Authentication",
    "BasicClient",
    "ClientError",
    "Direct",
    "Endpoint",
    "EndpointError",
    "InvalidResponse",
    "JwtSvid",
    "NoAuth",
    "NoUsableAuthenticator",
    "ServiceUnreachable",
    "UnixPeerCredentials",
    "endpoint_from_env",
    "parse_endpoint",
]
