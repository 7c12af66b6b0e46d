"""`parsec-tm fuzz`: stateful conformance fuzzing of any running Parsec-protocol service against the model.

Issue "Stateful conformance", item 3. Hypothesis drives random multi-tenant sequences of operations against the
service at `--socket` and the formal model in lockstep, checks every answer, and shrinks a divergence to a
minimal trace that replays. The fuzzer does not own that service: it uses fresh tenant names for each run (Direct)
or a fresh key-name prefix (Unix peer credentials: the tenant is the caller's own UID; JwtSvid: the tenants are the
SPIFFE IDs the caller's Unix user is registered for at `--workload-endpoint`, and the fuzzer only ever sends the
valid JWT-SVIDs it fetched, so it never spends the service's per-user failure count) and never touches a key it
did not create; life-cycle events (reload, restart, kill -9) need a service the harness owns, as in the test suite.

Exit codes: 0 when the steps ran without a divergence; 1 when one was found (the shrunk trace is printed and
written as a runnable pytest file, `--out`); 2 on usage or connection errors. `--database` (a directory or a
redis:// URL; default: $PARSEC_TM_FUZZ_DATABASE) shares failures between workers, so one found on one machine
replays on the others.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parsec_tm.conformance.trace import Divergence

DEFAULT_OUT = Path("test_parsec_divergence.py")
WORKLOAD_ENV = "SPIFFE_ENDPOINT_SOCKET"
"""Where SPIFFE clients find the Workload API; the default of --workload-endpoint."""
CHECK_LIFECYCLE_PERCENT = 5
"""`parsec-tm check` keeps to a few restarts, so that the whole check stays fast."""


def run(args: argparse.Namespace) -> int:
    from parsec_tm.conformance.deviations import DeviationError, Deviations, load
    from parsec_tm.conformance.progress import Progress
    from parsec_tm.conformance.runner import run_campaign
    from parsec_tm.conformance.settings import Budget, example_database
    from parsec_tm.conformance.target import SocketTarget, TargetError
    from parsec_tm.conformance.trace import dump_json, render_json, write_pytest

    try:
        budget = Budget(steps=args.steps, seed=args.seed)
        database = example_database(args.database)
        deviations = load(args.deviations) if args.deviations is not None else Deviations()
    except (ValueError, DeviationError) as error:
        return _usage_error(str(error))
    workload_endpoint: str | None = None
    if args.auth == "jwt-svid":
        workload_endpoint = args.workload_endpoint or os.environ.get(WORKLOAD_ENV)
        if not workload_endpoint:
            return _usage_error(
                f"--auth jwt-svid needs the SPIFFE Workload API: give --workload-endpoint URI or set ${WORKLOAD_ENV}"
            )
    elif args.workload_endpoint is not None:
        return _usage_error(f"--workload-endpoint is only used with --auth jwt-svid, not with --auth {args.auth}")
    socket_path = Path(args.socket)
    if not socket_path.exists():
        return _usage_error(f"no socket at {socket_path}: start the service or give its listener.socket_path")
    try:
        target = SocketTarget(
            f"unix:{socket_path.resolve()}",
            args.auth,
            workload_endpoint=workload_endpoint,
        )
    except (TargetError, OSError) as error:
        return _usage_error(str(error))
    with Progress(budget.steps, enabled=args.format == "text") as progress:
        result = run_campaign(
            target, budget, database=database, progress=progress, deviations=deviations, encryption=_encryption(args)
        )
    target.close()
    document: dict[str, Any] = {
        "passed": result.passed,
        "target": result.target,
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "steps_per_second": round(result.steps_per_second, 1),
        "seed": args.seed,
        "deviations": result.deviations,
    }
    if result.divergence is not None:
        document["divergence"] = render_json(result.divergence)
        document["flaky"] = result.flaky
        try:
            document["replay_file"] = str(write_pytest(result.divergence, args.out, seed=args.seed))
        except (ValueError, OSError) as error:
            document["replay_file"] = None
            document["replay_error"] = str(error)
    if args.format == "json":
        print(dump_json(document))
    else:
        _print_text(result.summary(), document, result.divergence)
    return 0 if result.passed else 1


def _encryption(args: argparse.Namespace) -> dict[Any, Any]:
    """The RSA encryption algorithm the campaign uses on the software provider, when --rsa-encryption names one."""
    from model.nouns import ProviderId as ModelProviderId
    from refimpl.psa import types as t

    if args.rsa_encryption is None:
        return {}
    algorithm = t.RsaPkcs1v15Crypt() if args.rsa_encryption == "pkcs1v15" else t.RsaOaep(t.Hash.SHA_256)
    return {ModelProviderId.MBED_CRYPTO: algorithm}


def _print_deviations(document: dict[str, Any]) -> None:
    for entry in document.get("deviations", ()):
        print(f"     declared deviation {entry['id']}: matched {entry['count']} times")


def _print_text(summary: str, document: dict[str, Any], divergence: Divergence | None) -> None:
    if divergence is None:
        print(f"ok   {summary} ({document['steps_per_second']} steps/s)")
        _print_deviations(document)
        return
    _print_deviations(document)
    print(f"FAIL {summary}")
    print(divergence)
    if document.get("replay_file"):
        print(f"replay: pytest {document['replay_file']}")
    else:
        print(f"no replay file: {document.get('replay_error')}")


def _usage_error(message: str) -> int:
    print(f"parsec-tm fuzz: {message}", file=sys.stderr)
    return 2


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from parsec_tm.conformance.settings import DEFAULT_STEPS

    parser = subparsers.add_parser(
        "fuzz",
        help="fuzz a running Parsec-protocol service against the formal model (stateful, multi-tenant)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--socket", required=True, metavar="PATH", help="the service's Unix socket")
    parser.add_argument(
        "--auth",
        choices=("direct", "peer", "jwt-svid"),
        required=True,
        help="the service's authenticator: direct (application names), peer (Unix peer credentials) or jwt-svid "
        "(SPIFFE IDs proved with JWT-SVIDs)",
    )
    parser.add_argument(
        "--workload-endpoint",
        default=None,
        metavar="URI",
        help=f"the SPIFFE Workload API the jwt-svid tenants fetch tokens from (default: ${WORKLOAD_ENV})",
    )
    parser.add_argument(
        "--steps", type=_positive, default=DEFAULT_STEPS, metavar="N", help=f"steps to run (default {DEFAULT_STEPS})"
    )
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="Hypothesis seed (default: random)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--database",
        default=None,
        metavar="DIR|redis://…",
        help="Hypothesis example database shared by workers (default: $PARSEC_TM_FUZZ_DATABASE, else none)",
    )
    parser.add_argument(
        "--deviations",
        type=Path,
        default=None,
        metavar="FILE",
        help="a TOML file of declared deviations (id, reason, operation, field, statuses): matching differences are "
        "counted and reported, and the run goes on; the reference service's own are in "
        "parsec_tm/conformance/refimpl_deviations.toml",
    )
    parser.add_argument(
        "--rsa-encryption",
        choices=("oaep", "pkcs1v15"),
        default=None,
        help="the RSA encryption algorithm of the fuzzer's keys on the software provider (default oaep; pkcs1v15 "
        "exercises PKCS#1 v1.5 decryption, whose implicit rejection the reference service declares)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="FILE",
        help=f"where to write the replay test when a divergence is found (default {DEFAULT_OUT})",
    )
    parser.set_defaults(handler=run)


def short_campaign() -> tuple[bool, str, list[str]]:
    """For `parsec-tm check`: a few hundred steps against the reference service on the software provider, which
    this function starts and stops (with reloads, restarts and kill -9), with PKCS#1 v1.5 keys and the service's
    declared deviations. Returns (passed, summary, failures)."""
    from model.nouns import ProviderId as ModelProviderId
    from parsec_tm.conformance.deviations import REFERENCE_DEVIATIONS, load
    from parsec_tm.conformance.runner import run_campaign, start_software_target
    from parsec_tm.conformance.service import ServiceError
    from parsec_tm.conformance.settings import CHECK_BUDGET
    from parsec_tm.conformance.target import TargetError
    from refimpl.psa.types import RsaPkcs1v15Crypt

    try:
        target = start_software_target("direct")
    except (ServiceError, TargetError, OSError) as error:
        return False, "the reference service did not start", [str(error)]
    try:
        result = run_campaign(
            target,
            CHECK_BUDGET,
            lifecycle_percent=CHECK_LIFECYCLE_PERCENT,
            deviations=load(REFERENCE_DEVIATIONS),
            encryption={ModelProviderId.MBED_CRYPTO: RsaPkcs1v15Crypt()},
        )
    finally:
        target.close()
    failures = [str(result.divergence)] if result.divergence is not None else []
    return result.passed, result.summary(), failures


def main(argv: list[str] | None = None) -> int:
    """`python -m parsec_tm.cli.fuzz ...`: this command without the other command groups."""
    parser = argparse.ArgumentParser(prog="parsec-tm")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["fuzz", *(sys.argv[1:] if argv is None else argv)])
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
