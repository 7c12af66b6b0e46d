"""`parsec-tm threats | report | what-if | graph`: Parsec's threat model as data, on the command line.

Every subcommand reads one model: a built-in one (``--model seed``, the 2020-09-21 revision and the default, or
``--model current``, the 2024-03-25 revision with its four deployment configurations) or ``--catalogue FILE``
(catalogue JSON, or any revision of the threat-model Markdown), and one deployment of it, ``--variant``: with-idp
(default) or no-idp for the seed; all (default: every row as written), GNRC, DSPC, DRCT or JWTS for the current.

- ``threats`` lists the catalogue's threats (the STRIDE rows, N/A rows excluded) as text or JSON, filtered by
  ``--attacker``, ``--asset``, ``--mitigation``; each JSON record names the configurations the row applies in;
- ``report --out DIR`` writes the Markdown and HTML report with the dataflow diagram picture (``--each-variant``:
  one per deployment, in DIR/<variant>);
- ``what-if M-3 …`` lists the threats that removing those mitigations leaves without any M- or O- mitigation;
- ``graph`` prints the dataflow graph: trust boundaries, components and flows with their attackers.

`catalogue_check_lines` is the catalogue-and-graph stage of ``parsec-tm check`` as (passed, lines). Exit codes: 0
ok, 1 check failed, 2 usage error (unknown ID or variant, unreadable catalogue). All logic lives in `dataflow`; this
module only formats, and imports `dataflow` inside the handlers so that ``parsec-tm --help`` starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataflow.catalogue import Catalogue, Threat

OK, FAILED, USAGE = 0, 1, 2
MODELS = ("seed", "current")
"""The built-in models (`dataflow.catalogue.BUILTIN_MODELS`): the seed (2020-09-21) and the current revision."""
MODEL_HELP = (
    "built-in model: seed (the 2020-09-21 revision, default) or current (the 2024-03-25 revision, with the "
    "deployment configurations GNRC, DSPC, DRCT and JWTS)"
)
VARIANT_HELP = (
    "deployment: with-idp (default) or no-idp for the seed; all (default, every row as written), GNRC, DSPC, DRCT "
    "or JWTS for the current revision"
)
CATALOGUE_HELP = "read this catalogue instead of a built-in model: catalogue JSON or a threat-model Markdown file"


def catalogue_check_lines(catalogue_path: Path | None = None, model: str | None = None) -> tuple[bool, list[str]]:
    """Check a catalogue (default: the built-in seed) and its dataflow graph, every variant included.

    Returns (passed, lines): a summary line, then one line per problem ("code: subject: message"), or the load
    error when the file does not load. This is the catalogue stage of ``parsec-tm check``.
    """
    from dataflow.catalogue import load_catalogue
    from dataflow.checks import run_checks
    from dataflow.errors import CatalogueError
    from dataflow.graph import build_graph

    try:
        catalogue = load_catalogue(catalogue_path, model=model)
        problems = run_checks(catalogue, build_graph(catalogue))
    except CatalogueError as error:
        return False, [f"catalogue does not load: {error}"]
    variants = ", ".join(f"{v.id}: {len(catalogue.variant(v.id).threats)} threats" for v in catalogue.variants)
    name = catalogue_path or ("built-in" if model in (None, "seed") else f"built-in {model}")
    summary = f"catalogue {name}: {variants}; {len(problems)} problem(s)"
    return not problems, [summary, *(str(problem) for problem in problems)]


def selected_catalogue(args: argparse.Namespace) -> Catalogue:
    """The catalogue that ``--model``/``--catalogue`` and ``--variant`` select (see `add_model_arguments`)."""
    from dataflow.catalogue import load_catalogue

    path = getattr(args, "catalogue", None)
    base = load_catalogue(path, model=None if path else getattr(args, "model", None))
    return base.variant(getattr(args, "variant", None) or base.variants[0].id)


def _threats(args: argparse.Namespace) -> int:
    from dataflow.queries import filter_threats
    from dataflow.records import threat_record

    catalogue = selected_catalogue(args)
    threats = filter_threats(catalogue, attacker=args.attacker, asset=args.asset, mitigation=args.mitigation)
    if args.format == "json":
        _print_json({"threats": [threat_record(catalogue, t) for t in threats]})
    else:
        _print_threat_lines(threats, catalogue if catalogue.is_base and len(catalogue.configurations) > 2 else None)
        print(f"{len(threats)} threat(s) in variant {catalogue.variant_id}")
    return OK


def _print_threat_lines(threats: list[Threat], scoped: Catalogue | None = None) -> None:
    """One line per threat; with `scoped` (every configuration's rows), the configurations of a row that does not
    apply in all of them come before its description."""
    for t in threats:
        scope = ""
        if scoped is not None and scoped.configurations_of(t.id) != scoped.configurations:
            scope = f"[{', '.join(scoped.configurations_of(t.id))}] "
        print(f"{t.id:<9} {', '.join(t.mitigations):<22} {', '.join(t.assets) or '-':<39} {scope}{t.description}")


def _report(args: argparse.Namespace) -> int:
    from dataflow.graph import build_graph
    from dataflow.report import write_report

    pictures = () if args.picture == "none" else ("svg", "png") if args.picture == "both" else (args.picture,)
    if args.each_variant:
        if args.variant:
            print("parsec-tm report: give --variant or --each-variant, not both", file=sys.stderr)
            return USAGE
        base = selected_catalogue(args)
        targets = [(base.variant(v.id), args.out / v.id) for v in base.variants]
    else:
        targets = [(selected_catalogue(args), args.out)]
    reports = []
    for catalogue, directory in targets:
        evidence = None
        if args.evidence or args.results:
            from parsec_tm.evidence.results import ResultsError
            from parsec_tm.evidence.run import evidence_report

            try:
                gathered = evidence_report(
                    args.results,
                    model=None if args.catalogue else args.model,
                    catalogue=args.catalogue,
                    variant=catalogue.variant_id,
                )
            except ResultsError as error:
                print(f"parsec-tm report: --results {args.results}: {error}", file=sys.stderr)
                return USAGE
            evidence = gathered.plain()
        files = write_report(catalogue, build_graph(catalogue), directory, pictures, evidence=evidence)
        written = [files.markdown, files.html, *files.pictures]
        reports.append({"variant": catalogue.variant_id, "files": [str(path) for path in written]})
    if args.format == "json":
        _print_json({"reports": reports} if args.each_variant else reports[0])
    else:
        for report in reports:
            for path in report["files"]:
                print(path)
    return OK


def _what_if(args: argparse.Namespace) -> int:
    from dataflow.queries import unmitigated_threats, what_if_removed
    from dataflow.records import threat_record

    catalogue = selected_catalogue(args)
    left = what_if_removed(catalogue, args.mitigations)
    already = unmitigated_threats(catalogue)
    if args.format == "json":
        _print_json(
            {
                "variant": catalogue.variant_id,
                "removed": args.mitigations,
                "threats": [threat_record(catalogue, t) for t in left],
                "already_without_mitigation": [t.id for t in already],
            }
        )
        return OK
    removed = ", ".join(args.mitigations)
    print(f"Removing {removed} leaves {len(left)} threat(s) without any M- or O- mitigation:")
    _print_threat_lines(left)
    print(f"Already without an M- or O- mitigation: {', '.join(t.id for t in already) or 'none'}")
    return OK


def _graph(args: argparse.Namespace) -> int:
    from dataflow.graph import boundary_members, build_graph, flow_records, node_records

    catalogue = selected_catalogue(args)
    graph = build_graph(catalogue)
    members = boundary_members(graph)
    boundaries = [
        {
            "id": boundary.id,
            "label": boundary.label,
            "description": boundary.description,
            "assumptions": list(boundary.assumptions),
            "nodes": members.get(boundary.id, []),
        }
        for boundary in graph.graph["boundaries"].values()
    ]
    flows = flow_records(graph)
    if args.format == "json":
        _print_json(
            {"variant": catalogue.variant_id, "boundaries": boundaries, "nodes": node_records(graph), "flows": flows}
        )
        return OK
    for boundary in boundaries:
        print(f"[{boundary['id']}] {boundary['label']}: {', '.join(boundary['nodes'])}")
    print()
    for flow in flows:
        crossing = f"  {flow['source_boundary']} → {flow['target_boundary']}" if flow["crosses_boundary"] else ""
        attackers = ", ".join(flow["attackers"])
        if flow["out_of_scope_attackers"]:
            attackers += f" (out of scope: {', '.join(flow['out_of_scope_attackers'])})"
        print(f"{flow['id']:<28} {flow['source']} -> {flow['target']}  [{attackers}]{crossing}")
    return OK


def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn a `CatalogueError` (unknown ID or variant, bad catalogue file) into a message and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        from dataflow.errors import CatalogueError

        try:
            return handler(args)
        except CatalogueError as error:
            print(f"parsec-tm {args.command}: {error}", file=sys.stderr)
            return USAGE

    return run


def add_model_arguments(parser: argparse.ArgumentParser, variant: bool = True) -> None:
    """``--model seed|current`` or ``--catalogue FILE`` (one of them), and ``--variant``: one spelling everywhere.

    Read them back with `selected_catalogue`. Other subcommands that take a model (prove, evidence, export) can
    call this to offer the same options.
    """
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", choices=MODELS, default="seed", help=MODEL_HELP)
    source.add_argument("--catalogue", type=Path, default=None, metavar="FILE", help=CATALOGUE_HELP)
    if variant:
        parser.add_argument("--variant", default=None, metavar="VARIANT", help=VARIANT_HELP)


def _add_model_options(parser: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "json")) -> None:
    add_model_arguments(parser)
    parser.add_argument("--format", choices=formats, default=formats[0])


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``threats``, ``report``, ``what-if`` and ``graph`` subcommands."""
    threats = subparsers.add_parser("threats", help="list the threat model's threats (text or JSON)")
    _add_model_options(threats)
    threats.add_argument("--attacker", metavar="ID", help="only this attacker's threats, e.g. A1")
    threats.add_argument("--asset", metavar="ID", help="only threats impacting this asset, e.g. AS3")
    threats.add_argument("--mitigation", metavar="ID", help="only threats naming this U-/M-/O-/ASUM- ID, e.g. M-3")
    threats.set_defaults(handler=guarded(_threats))

    report = subparsers.add_parser("report", help="write the threat-model report (Markdown, HTML, diagram picture)")
    report.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write the report to")
    report.add_argument("--picture", choices=("svg", "png", "both", "none"), default="svg", help="diagram format")
    report.add_argument(
        "--evidence",
        action="store_true",
        help="add the evidence per threat row (proofs, counterexamples, fuzz properties; tests with --results)",
    )
    report.add_argument(
        "--results", type=Path, metavar="FILE", help="test results (`pytest --threat-results FILE`); implies --evidence"
    )
    report.add_argument(
        "--each-variant",
        action="store_true",
        help="one report per deployment (with-idp, no-idp; or all, GNRC, DSPC, DRCT, JWTS), each in DIR/<variant>",
    )
    _add_model_options(report)
    report.set_defaults(handler=guarded(_report))

    what_if = subparsers.add_parser(
        "what-if", help="threats left without any M- or O- mitigation when mitigations are removed"
    )
    what_if.add_argument("mitigations", nargs="+", metavar="MITIGATION", help="U-, M- or O- IDs to remove")
    _add_model_options(what_if)
    what_if.set_defaults(handler=guarded(_what_if))

    graph = subparsers.add_parser("graph", help="the dataflow graph: trust boundaries, components, flows, attackers")
    _add_model_options(graph, formats=("text", "json"))
    graph.set_defaults(handler=guarded(_graph))
