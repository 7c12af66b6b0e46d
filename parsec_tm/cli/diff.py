"""`parsec-tm diff OLD NEW`: what changed between two revisions of Parsec's threat model, entry by entry.

OLD and NEW are each a catalogue JSON file, a threat-model Markdown file (any revision of the format), or the name of
a built-in model (``seed``, ``current``). Rows are paired by ID and by content (`dataflow.diff`): a reworded row is
one change, an inserted row does not turn the later rows into changes. ``--format text`` reads in a terminal,
``markdown`` as a pull-request comment, ``json`` is ``{"threats": {"added", "removed", "changed", "renumbered"}, …}``.
``--proofs OLD.json NEW.json`` (two ``parsec-tm prove --format json`` outputs) adds the proofs and mitigation
verdicts that changed. Exit codes: 0 (with ``--exit-code``: 0 no change, 1 changes), 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OK, CHANGED, USAGE = 0, 1, 2
MODELS = ("seed", "current")


def _load(source: str) -> Any:
    """A base catalogue from a file, or from a built-in model's name when no such file exists."""
    from dataflow.catalogue import load_catalogue

    if source in MODELS and not Path(source).exists():
        return load_catalogue(model=source)
    return load_catalogue(Path(source))


def _diff(args: argparse.Namespace) -> int:
    from dataflow.diff import diff_catalogues, proof_changes, render_markdown, render_text
    from dataflow.errors import CatalogueError

    try:
        old, new = _load(args.old), _load(args.new)
        proofs = None
        if args.proofs:
            documents = [json.loads(Path(path).read_text(encoding="utf-8")) for path in args.proofs]
            proofs = proof_changes(documents[0], documents[1])
    except (CatalogueError, OSError, ValueError) as error:
        print(f"parsec-tm diff: {error}", file=sys.stderr)
        return USAGE
    diff = diff_catalogues(old, new, args.old, args.new, proofs)
    if args.format == "json":
        print(json.dumps(diff.to_document(), indent=2, ensure_ascii=False))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(diff))
    else:
        sys.stdout.write(render_text(diff))
    return CHANGED if args.exit_code and not diff.empty else OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``diff`` subcommand."""
    parser = subparsers.add_parser(
        "diff",
        help="what changed between two threat-model revisions (threats, mitigations, configurations, …)",
        description="Compare two revisions of Parsec's threat model entry by entry: rows are paired by ID and by "
        "content, so a reworded row is one change and an inserted row leaves the others alone.",
    )
    parser.add_argument("old", metavar="OLD", help="catalogue JSON, threat-model Markdown, or a built-in model name")
    parser.add_argument("new", metavar="NEW", help="catalogue JSON, threat-model Markdown, or a built-in model name")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument(
        "--proofs",
        nargs=2,
        metavar=("OLD_PROOFS", "NEW_PROOFS"),
        help="two `parsec-tm prove --format json` outputs: also report the proofs and verdicts that changed",
    )
    parser.add_argument("--exit-code", action="store_true", help="exit with 1 when the two revisions differ")
    parser.set_defaults(handler=_diff)
