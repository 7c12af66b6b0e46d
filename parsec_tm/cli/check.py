"""`parsec-tm check`: the main job — everything the threat model claims, checked in one run.

1. the catalogue and the dataflow graph (`dataflow.checks`): referential integrity, dispositions, STRIDE coverage of
   every flow that crosses a trust boundary, the no-IdP variant derivation;
2. the formal model (`properties.prove`): every invariant proved inductive with Z3 in every deployment of the
   model (`--model seed`, the default: with and without an Identity Provider; `--model current`: the 2024
   revision's GNRC, DSPC, DRCT and JWTS), and a verdict for every mitigation;
3. the reference service against the model (`parsec_tm.conformance`): a short stateful campaign on the software
   provider, with reloads, restarts and kill -9 — the same machine `parsec-tm fuzz` runs;
4. the evidence of every threat row (`parsec_tm.evidence`): proofs, counterexamples, and with `--results` the
   outcomes of the tests marked with its IDs; any failing evidence fails the check.

It prints one line per stage and a readable list of whatever failed, and exits 1 if anything did.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StageResult:
    """What one stage of the check found: failures are the lines a user must act on."""

    name: str
    summary: str
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures


def check_catalogue(catalogue_path: Path | None, model: str) -> StageResult:
    from dataflow.catalogue import load_catalogue
    from dataflow.checks import run_checks
    from dataflow.errors import CatalogueError
    from dataflow.graph import build_graph

    try:
        catalogue = load_catalogue(catalogue_path, model=None if catalogue_path else model)
    except CatalogueError as error:
        return StageResult("catalogue", "the catalogue does not load", [str(error)])
    problems = run_checks(catalogue, build_graph(catalogue))
    summary = (
        f"{len(catalogue.threats)} threats, {len(catalogue.mitigations)} mitigations, "
        f"{len(catalogue.assets)} assets, {len(catalogue.attackers)} attackers"
    )
    failures = [f"[{problem.code}] {problem.subject}: {problem.message}" for problem in problems]
    return StageResult("catalogue", summary, failures, data={"problems": [vars(problem) for problem in problems]})


def check_proofs(model: str) -> StageResult:
    from properties.prove import run_all

    report = run_all(model=model)
    failures = list(report.problems)
    verdicts = Counter(mutation.status for mutation in report.mutations)
    verdict_counts = ", ".join(f"{count} {status}" for status, count in sorted(verdicts.items()))
    proved = sum(result.status == "proved" for result in report.invariants)
    summary = f"{proved}/{len(report.invariants)} invariants proved; mitigation verdicts: {verdict_counts}"
    return StageResult("proofs", summary, failures, data=report.to_dict())


def check_conformance() -> StageResult:
    from parsec_tm.cli.fuzz import short_campaign

    passed, summary, failures = short_campaign()
    return StageResult("service", summary, failures or ([] if passed else [summary]))


def check_evidence(args: argparse.Namespace, earlier: list[StageResult]) -> StageResult:
    """Evidence per threat row (`parsec_tm.evidence`), from the proofs stage's report and the test results file:
    fails when any evidence fails (a test, a proof, an unconfirmed counterexample, a campaign)."""
    from dataflow.catalogue import load_catalogue
    from parsec_tm.evidence.results import ResultsError
    from parsec_tm.evidence.run import check_lines, evidence_report

    proofs = next((r.data for r in earlier if r.name == "proofs" and r.data), None)
    summaries: list[str] = []
    failures: list[str] = []
    for variant in load_catalogue(model=args.model).variants:
        try:
            report = evidence_report(
                args.results, model=args.model, variant=variant.id, proof_report=proofs, proofs=proofs is not None
            )
        except ResultsError as error:
            return StageResult("evidence", "the test results do not load", [str(error)])
        _, summary, found = check_lines(report)
        summaries.append(summary)
        failures += found
    summary = "; ".join(summaries)
    if args.results is None:
        summary += (
            " (proofs only: with --results build/threat-results.json, written by scripts/test.sh, tests count too)"
        )
    return StageResult("evidence", summary, failures)


STAGES: dict[str, Callable[[argparse.Namespace], StageResult]] = {
    "catalogue": lambda args: check_catalogue(args.catalogue, args.model),
    "proofs": lambda args: check_proofs(args.model),
    "service": lambda args: check_conformance(),
}


def run(args: argparse.Namespace) -> int:
    results: list[StageResult] = []
    # A custom catalogue is not what the built-in model is proved against, so it is checked on its own.
    stages = ["catalogue"] if args.catalogue else [*STAGES, "evidence"]
    for name in stages:
        started = time.perf_counter()
        result = check_evidence(args, results) if name == "evidence" else STAGES[name](args)
        result.seconds = time.perf_counter() - started
        results.append(result)
        if args.format == "text":
            mark = "ok  " if result.passed else "FAIL"
            print(f"{mark} {result.name:<10} {result.summary} ({result.seconds:.2f} s)")
            for failure in result.failures:
                print(f"       - {failure}")
    passed = all(result.passed for result in results)
    if args.format == "json":
        document = {
            "passed": passed,
            "stages": [
                {"name": r.name, "passed": r.passed, "summary": r.summary, "failures": r.failures, "seconds": r.seconds}
                for r in results
            ],
        }
        print(json.dumps(document, indent=2))
    elif not passed:
        print("parsec-tm check: FAILED — fix the entries listed above")
    return 0 if passed else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check the threat model: catalogue and graph, Z3 proofs, and a short conformance run of the service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from parsec_tm.cli.threat_model import add_model_arguments

    add_model_arguments(parser, variant=False)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        metavar="FILE",
        help="test results written by `pytest --threat-results FILE`: their outcomes count as evidence",
    )
    parser.set_defaults(handler=run)
