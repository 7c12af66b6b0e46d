"""`parsec-tm export`: the Parsec threat model in the formats threat-modelling tools read.

- ``--format otm``: Open Threat Model 0.2.0 (IriusRisk's open format): trust zones, components, dataflows, threats
  with their STRIDE categories, mitigations, and which mitigation answers which threat;
- ``--format threat-dragon``: an OWASP Threat Dragon v2 model: the dataflow diagram's components, flows and trust
  boundaries, with each threat on the element it concerns, so Threat Dragon opens it.

Exit codes: 0 written, 2 usage error (unknown variant, unreadable catalogue).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from parsec_tm.cli.threat_model import add_model_arguments, selected_catalogue

OK, USAGE = 0, 2


def run(args: argparse.Namespace) -> int:
    import json

    from dataflow.errors import CatalogueError
    from dataflow.graph import build_graph

    try:
        catalogue = selected_catalogue(args)
    except CatalogueError as error:
        print(f"parsec-tm export: {error}", file=sys.stderr)
        return USAGE
    graph = build_graph(catalogue)
    if args.format == "otm":
        from parsec_tm.export.otm import to_otm

        document = to_otm(catalogue, graph)
    else:
        from parsec_tm.export.threat_dragon import to_threat_dragon

        document = to_threat_dragon(catalogue, graph)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.out is None or str(args.out) == "-":
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(args.out)
    return OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export the threat model as Open Threat Model (OTM 0.2.0) or an OWASP Threat Dragon v2 model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--format", choices=("otm", "threat-dragon"), required=True)
    parser.add_argument("--out", type=Path, metavar="FILE", help="file to write (default: standard output)")
    add_model_arguments(parser)
    parser.set_defaults(handler=run)
