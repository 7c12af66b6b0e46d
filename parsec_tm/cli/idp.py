"""`parsec-tm idp`: run the test-and-demo identity provider (a SPIFFE Workload API server), or fetch a token from one.

`parsec-tm idp serve --socket PATH --trust-domain TD --workload UID=spiffe://TD/app …` serves JWT-SVIDs to the
registered Unix users until SIGINT or SIGTERM (refimpl.identity_provider). Point the service's
`[authenticator] workload_endpoint` and the clients' `SPIFFE_ENDPOINT_SOCKET` at the URI it prints.
`parsec-tm idp token` prints a JWT-SVID for audience "parsec" fetched from a Workload API, SPIRE's or this one.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def _log_level(text: str) -> str:
    """One of Parsec's log levels (`refimpl.logs.LOG_LEVELS`), checked when the command is parsed."""
    from refimpl.logs import LOG_LEVELS

    if text not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(sorted(LOG_LEVELS))}")
    return text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("idp", help="run a SPIFFE Workload API identity provider for tests and demos")
    commands = parser.add_subparsers(dest="idp_command", required=True, metavar="SUBCOMMAND")

    serve = commands.add_parser("serve", help="serve JWT-SVIDs on a Unix socket until interrupted")
    serve.add_argument("--socket", required=True, type=Path, help="the Workload API socket to create")
    serve.add_argument("--trust-domain", required=True, help="the trust domain, e.g. example.org")
    serve.add_argument(
        "--workload",
        action="append",
        default=[],
        metavar="[uid:|gid:]N=SPIFFE_ID",
        help="register callers with this Unix uid (or gid) for a SPIFFE ID; repeat for more",
    )
    serve.add_argument("--svid-ttl", type=float, default=300.0, help="JWT-SVID lifetime in seconds (default 300)")
    serve.add_argument("--rotate-every", type=float, help="rotate the signing key every N seconds (default: never)")
    serve.add_argument(
        "--grace-period", type=float, help="seconds a rotated-out key stays in the bundle (default: twice the TTL)"
    )
    serve.add_argument(
        "--allow-unauthenticated-verifiers",
        action="store_true",
        help="send bundles to callers with no registration (SPIRE's allow_unauthenticated_verifiers)",
    )
    serve.add_argument(
        "--log-level", type=_log_level, default="info", metavar="LEVEL", help="Parsec's log level (default info)"
    )
    serve.set_defaults(handler=run_serve)

    token = commands.add_parser("token", help='print a JWT-SVID for audience "parsec" from a Workload API')
    token.add_argument("--endpoint", help="Workload API URI (default: $SPIFFE_ENDPOINT_SOCKET)")
    token.add_argument("--spiffe-id", help="which of this user's SPIFFE IDs to ask for")
    token.set_defaults(handler=run_token)


def run_serve(args: argparse.Namespace) -> int:
    from refimpl import logs
    from refimpl.identity_provider.server import ServerSettings, WorkloadApiServer
    from refimpl.identity_provider.workloads import Registry, parse_workload

    try:
        registry = Registry.of(args.trust_domain, [parse_workload(text) for text in args.workload])
        settings = ServerSettings(
            socket_path=args.socket,
            registry=registry,
            svid_ttl=args.svid_ttl,
            rotate_every=args.rotate_every,
            grace_period=args.grace_period,
            allow_unauthenticated_verifiers=args.allow_unauthenticated_verifiers,
        )
    except ValueError as error:
        print(f"parsec-tm idp serve: {error}", file=sys.stderr)
        return 2
    if not registry.workloads:
        print("parsec-tm idp serve: warning: no --workload given, so no caller can get a JWT-SVID", file=sys.stderr)
    logs.configure(args.log_level)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = WorkloadApiServer(settings)
    try:
        server.start()
    except OSError as error:
        print(f"parsec-tm idp serve: cannot serve at {args.socket}: {error}", file=sys.stderr)
        return 2
    print(f"Workload API for {registry.trust_domain} at {server.endpoint}", flush=True)
    print(f"export SPIFFE_ENDPOINT_SOCKET={server.endpoint}", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


def run_token(args: argparse.Namespace) -> int:
    from refimpl.client.jwt_svid import JwtSvidAuthentication, WorkloadApiUnavailable
    from refimpl.spiffe_api import PySpiffeError

    try:
        authentication = JwtSvidAuthentication(args.endpoint, args.spiffe_id)
    except PySpiffeError as error:
        print(f"parsec-tm idp token: --spiffe-id {args.spiffe_id}: {error}", file=sys.stderr)
        return 2
    try:
        print(authentication.token())
    except WorkloadApiUnavailable as error:
        print(f"parsec-tm idp token: {error}", file=sys.stderr)
        return 2
    finally:
        authentication.close()
    return 0
