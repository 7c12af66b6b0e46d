"""`parsec-tm serve --config FILE`: run the reference service in the foreground.

A thin wrapper over `refimpl.service.Service` (the counterpart of Parsec's `parsec --config FILE`,
svc:src/bin/main.rs). The config is Parsec's config.toml schema. Exit codes: 0 after SIGTERM/SIGINT; 2 when the
configuration is invalid — at start or on a SIGHUP reload — with one line on stderr naming the key to fix; 1
when a worker process died (with `--processes N`, see `refimpl.front.worker_processes`).
Clients find the service through `PARSEC_SERVICE_ENDPOINT=unix:<listener.socket_path>`, as Parsec's clients do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from refimpl.errors import ConfigError
    from refimpl.service import Service

    try:
        return Service(args.config, processes=args.processes).run()
    except ConfigError as error:
        print(f"parsec-tm serve: invalid configuration: {error.key}: {error.message}", file=sys.stderr)
        return 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the reference service in the foreground (Parsec's config.toml schema)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-c", "--config", type=Path, required=True, metavar="FILE", help="the service's config.toml (Parsec's schema)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="pre-forked worker processes sharing the socket (default 1, as Parsec); above 1 needs SQLite key "
        "info managers and MbedCrypto providers",
    )
    parser.set_defaults(handler=run)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m parsec_tm.cli.serve --config FILE`: the same command without the other command groups."""
    parser = argparse.ArgumentParser(prog="parsec-tm")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
