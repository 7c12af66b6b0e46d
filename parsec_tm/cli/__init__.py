"""The `parsec-tm` command line: one subcommand group per module, each exposing `register(subparsers)`.

The command line is thin: it parses arguments and calls the packages. Each `register` adds its subparsers and sets
`handler=` (a function `(argparse.Namespace) -> int`) as a default. Exit codes: 0 success, 1 a check, proof or
conformance failure, 2 usage or connection errors.

Building the parser imports every command module and calls its `register`, for every command (`--version` and
`--help` included), so a command module imports only the standard library at its top and in `register`; what its
handlers need (the dataflow graph, Z3, Hypothesis, the reference service, py-spiffe) is imported inside them.
`tests/cli/test_startup.py` holds each module to that; `bench/bench_startup.py` times the commands.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from parsec_tm import __version__

COMMAND_MODULES = ("check", "threat_model", "diff", "prove", "serve", "client", "fuzz", "idp", "evidence", "export")
"""Modules of this package that add subcommands, in the order `parsec-tm --help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parsec-tm",
        description="An executable, formal threat model of the Parsec service, and a reference service to test it on.",
    )
    parser.add_argument("--version", action="version", version=f"parsec-tm {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("parsec-tm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `parsec-tm threats | head`: the reader left; that is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
