"""`parsec-tm fuzz`: stateful conformance fuzzing of any running Parsec-protocol service against the model.

Hypothesis drives random multi-tenant sequences of operations against the
service at `--socket` and the formal model in lockstep, checks every answer, and shrinks a divergence to a
minimal trace that replays. The fuzzer does not own that service: it uses fresh tenant names for each run (Direct)
or a fresh key-name prefix (Unix peer credentials: the tenant is the caller's own UID; JwtSvid: the tenants are the
SPIFFE IDs the caller's Unix user is registered for at `--workload-endpoint`, and the fuzzer only ever sends the
valid JWT-SVIDs it fetched, so it never spends the service's per-user failure count) and never touches a key it
did not create; life-cycle events (reload, restart, kill -9) need a service the harness owns, as in the test suite.

Every run ends with its coverage: operations × statuses × providers exercised, tenants, life-cycle events, and
the machine rules, model operations and model statuses that never fired (`--min-coverage` fails a run that
exercised too little). `--deviations FILE` declares known differences (TOML), which are counted and reported
instead of stopping the run; the reference service's own are in parsec_tm/conformance/refimpl_deviations.toml.
`--workers N` runs N campaigns in parallel processes with distinct seeds and one example database; `--junit FILE`
writes one JUnit test case per campaign.

Exit codes: 0 when the steps ran without a divergence (and with enough coverage); 1 when one was found (the shrunk
trace is printed and written as a runnable pytest file, `--out`) or the coverage is below `--min-coverage`; 2 on
usage or connection errors. `--database` (a directory or a redis:// URL; default: $PARSEC_TM_FUZZ_DATABASE)
shares failures between workers and machines, so one found on one replays on the others.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("test_parsec_divergence.py")
WORKLOAD_ENV = "SPIFFE_ENDPOINT_SOCKET"
"""Where SPIFFE clients find the Workload API; the default of --workload-endpoint."""
CHECK_LIFECYCLE_PERCENT = 5
"""`parsec-tm check` keeps to a few restarts, so that the whole check stays fast."""


def run(args: argparse.Namespace) -> int:
    from parsec_tm.conformance.deviations import DeviationError, load
    from parsec_tm.conformance.settings import DATABASE_ENV, Budget, example_database
    from parsec_tm.conformance.target import SocketTarget, TargetError

    try:
        Budget(steps=args.steps, seed=args.seed)
        database = args.database if args.database is not None else os.environ.get(DATABASE_ENV) or None
        example_database(database or "")
        if args.deviations is not None:
            load(args.deviations)
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
    try:  # reach the service and its authenticator once, so that a wrong socket or auth is a usage error
        SocketTarget(f"unix:{socket_path.resolve()}", args.auth, workload_endpoint=workload_endpoint).close()
    except (TargetError, OSError) as error:
        return _usage_error(str(error))
    documents = _campaigns(args, str(socket_path.resolve()), database, workload_endpoint)
    return _report(args, documents)


def _campaigns(
    args: argparse.Namespace, socket: str, database: str | None, workload_endpoint: str | None
) -> list[dict[str, Any]]:
    """Run the campaign, or `--workers` campaigns in parallel processes with distinct seeds and one database."""
    import random

    from parsec_tm.conformance.progress import Progress
    from parsec_tm.conformance.workers import CampaignSpec, run_spec, run_specs, shared_database

    def spec(worker: int, seed: int | None, shared: str | None) -> CampaignSpec:
        out = args.out if args.workers == 1 else args.out.with_name(f"{args.out.stem}_w{worker}{args.out.suffix}")
        return CampaignSpec(
            socket=socket,
            auth=args.auth,
            steps=args.steps,
            seed=seed,
            out=str(out),
            database=shared,
            workload_endpoint=workload_endpoint,
            deviations=str(args.deviations) if args.deviations is not None else None,
            rsa_encryption=args.rsa_encryption,
            worker=worker,
        )

    if args.workers == 1:
        with Progress(args.steps, enabled=args.format == "text") as progress:
            return [run_spec(spec(0, args.seed, database), progress)]
    base = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    with shared_database(database) as shared:
        specs = [spec(worker, base + worker, shared) for worker in range(args.workers)]
        return run_specs(specs)


def _report(args: argparse.Namespace, documents: list[dict[str, Any]]) -> int:
    """Print the verdict, coverage and deviations; write the JUnit file; the exit code."""
    from parsec_tm.conformance.coverage import merge_reports, render_text
    from parsec_tm.conformance.junit import write_junit
    from parsec_tm.conformance.machine import rule_names
    from parsec_tm.conformance.trace import dump_json
    from parsec_tm.conformance.workers import case_report

    coverage = documents[0]["coverage"]
    if len(documents) > 1:
        # life-cycle events need a service the fuzzer owns, never the case of --socket
        reports = [document["coverage"] for document in documents]
        coverage = merge_reports(reports, lifecycle=False, rules=rule_names())
    passed = all(document["passed"] for document in documents)
    too_little = args.min_coverage is not None and coverage.get("score", 0.0) < args.min_coverage
    if args.junit is not None:
        write_junit(args.junit, [case_report(document) for document in documents])
    if args.format == "json":
        if len(documents) == 1:
            document = {key: value for key, value in documents[0].items() if key not in ("name", "summary", "trace")}
        else:
            steps = sum(int(document["steps"]) for document in documents)
            seconds = max(float(document["seconds"]) for document in documents)
            document = {
                "passed": passed,
                "workers": len(documents),
                "steps": steps,
                "seconds": seconds,
                "steps_per_second": round(steps / seconds, 1) if seconds else 0.0,
                "campaigns": documents,
                "coverage": coverage,
            }
        document["coverage_too_low"] = too_little
        print(dump_json(document))
    else:
        for document in documents:
            _print_text(document)
        print(render_text(coverage))
        if too_little:
            print(f"FAIL coverage {coverage.get('score')}% is below --min-coverage {args.min_coverage}%")
        if args.junit is not None:
            print(f"junit: {args.junit}")
    return 0 if passed and not too_little else 1


def _print_text(document: dict[str, Any]) -> None:
    if document["passed"]:
        print(f"ok   {document['summary']} ({document['steps_per_second']} steps/s)")
    else:
        print(f"FAIL {document['summary']}")
        if document.get("trace"):
            print(document["trace"])
        if document.get("replay_file"):
            print(f"replay: pytest {document['replay_file']}")
        elif "replay_error" in document:
            print(f"no replay file: {document['replay_error']}")
    for entry in document.get("deviations", ()):
        print(f"     declared deviation {entry['id']}: matched {entry['count']} times")


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
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="run N campaigns in parallel processes, with distinct seeds (the seed + 0..N-1) and one example "
        "database (--database, else a temporary directory for the run); each runs --steps steps",
    )
    parser.add_argument(
        "--min-coverage",
        type=float,
        default=None,
        metavar="PERCENT",
        help="fail (exit 1) when the coverage score (rules, operations, statuses and life-cycle events exercised) "
        "is below PERCENT",
    )
    parser.add_argument(
        "--junit",
        type=Path,
        default=None,
        metavar="FILE",
        help="write a JUnit XML report: one test case per campaign, a failure carrying the shrunk trace and the "
        "replay file",
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
