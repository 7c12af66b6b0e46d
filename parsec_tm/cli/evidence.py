"""`parsec-tm evidence`: every threat row of Parsec's threat model with the evidence that shows it is answered.

For each row: the Z3 invariants that cover it, the mitigation verdicts whose counterexample realises it, the tests
marked with its ID or its mitigations' IDs (from a results file written by ``pytest --threat-results FILE``), the
conformance properties that check it, and the document's operational or unmitigated notes; then one status:
proved, tested, fuzzed, operational, unmitigated, failing or no-evidence.

Formats: text, json, markdown (a pull-request comment), sarif (SARIF 2.1.0 for code-scanning dashboards: one result
per failing row or row without evidence, at its line in the threat-model document). Exit codes: 0 no evidence
failed, 1 some evidence failed (or, with --require-goal, some row misses the goal), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from parsec_tm.cli.threat_model import add_model_arguments, selected_catalogue

OK, FAILED, USAGE = 0, 1, 2


def run(args: argparse.Namespace) -> int:
    from dataflow.errors import CatalogueError
    from parsec_tm import __version__
    from parsec_tm.evidence.document import default_document, row_lines
    from parsec_tm.evidence.render import render_json, render_markdown, render_sarif, render_text
    from parsec_tm.evidence.results import ResultsError
    from parsec_tm.evidence.run import evidence_report

    if args.document is not None and not args.document.is_file():
        print(f"parsec-tm evidence: --document {args.document}: no such file", file=sys.stderr)
        return USAGE
    try:
        report = evidence_report(
            args.results, model=args.model, catalogue=args.catalogue, variant=args.variant, proofs=args.proofs
        )
    except (CatalogueError, ResultsError) as error:
        print(f"parsec-tm evidence: {error}", file=sys.stderr)
        return USAGE
    if args.format == "json":
        sys.stdout.write(render_json(report))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(report))
    elif args.format == "sarif":
        catalogue = selected_catalogue(args)
        document = args.document or (args.catalogue if args.catalogue and args.catalogue.suffix == ".md" else None)
        document = document or (None if args.catalogue else default_document(args.model))
        lines = row_lines(document.read_text(encoding="utf-8"), catalogue) if document else {}
        sys.stdout.write(render_sarif(report, catalogue, document, __version__, lines))
    else:
        sys.stdout.write(render_text(report))
    if report.failing or (args.require_goal and report.goal_misses):
        return FAILED
    return OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "evidence",
        help="per threat row: the proofs, counterexamples, tests and fuzz properties behind it, and a status",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--results", type=Path, metavar="FILE", help="test results written by `pytest --threat-results FILE`"
    )
    parser.add_argument("--format", choices=("text", "json", "markdown", "sarif"), default="text")
    parser.add_argument(
        "--document", type=Path, metavar="FILE", help="threat-model Markdown the SARIF locations point into"
    )
    parser.add_argument(
        "--no-proofs", dest="proofs", action="store_false", help="skip the Z3 proofs and mitigation verdicts"
    )
    parser.add_argument(
        "--require-goal",
        action="store_true",
        help="also exit 1 when a row has no evidence or names an M- mitigation without passing executable evidence",
    )
    add_model_arguments(parser)
    parser.set_defaults(handler=run)
