"""`parsec-tm diff OLD NEW`: what changed between two revisions of Parsec's threat model, entry by entry.

OLD and NEW are each a catalogue JSON file, a threat-model Markdown file (any revision of the format), or the name of
a built-in model (``seed``, ``current``). Rows are paired by ID and by content (`dataflow.diff`): a reworded row is
one change, an inserted row does not turn the later rows into changes. ``--format text`` reads in a terminal,
``markdown`` as a pull-request comment, ``json`` is ``{"threats": {"added", "removed", "changed", "renumbered"}, …}``.
When both sides have a formal model, the invariant proofs and mitigation verdicts that changed are added, paired
as the catalogues' entries are (with-idp's with GNRC's, no-idp's with DRCT's): ``--verdicts`` proves the two
built-in models itself (`parsec_tm.verdict_diff`; seconds of CPU, so only when asked), ``--proofs OLD.json
NEW.json`` reads two saved ``parsec-tm prove --format json`` outputs. Exit codes: 0 (with ``--exit-code``: 0 no
change, 1 changes), 2 unreadable input or a model that cannot be proved.
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

    if _is_model(source):
        return load_catalogue(model=source)
    return load_catalogue(Path(source))


def _is_model(source: str) -> bool:
    return source in MODELS and not Path(source).exists()


def _diff(args: argparse.Namespace) -> int:
    from dataflow.diff import diff_catalogues, render_markdown, render_text, with_proofs
    from dataflow.errors import CatalogueError

    if args.verdicts and not (_is_model(args.old) and _is_model(args.new)):
        print(
            f"parsec-tm diff: --verdicts proves the built-in models ({', '.join(MODELS)}); for other revisions, "
            "save `parsec-tm prove --format json` outputs and pass them with --proofs",
            file=sys.stderr,
        )
        return USAGE
    try:
        diff = diff_catalogues(_load(args.old), _load(args.new), args.old, args.new)
        if args.proofs:
            documents = [json.loads(Path(path).read_text(encoding="utf-8")) for path in args.proofs]
            diff = with_proofs(diff, documents[0], documents[1])
    except (CatalogueError, OSError, ValueError) as error:
        print(f"parsec-tm diff: {error}", file=sys.stderr)
        return USAGE
    if args.verdicts:
        from parsec_tm.verdict_diff import verdict_diff
        from properties.prove import ModelIncomplete

        try:
            diff, _ = verdict_diff(diff, args.old, args.new)
        except ModelIncomplete as error:
            print(f"parsec-tm diff: {error}", file=sys.stderr)
            return USAGE
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
    proofs = parser.add_mutually_exclusive_group()
    proofs.add_argument(
        "--verdicts",
        action="store_true",
        help="when OLD and NEW are built-in models: prove both and also report the invariant proofs and mitigation "
        "verdicts that changed (proving takes tens of seconds)",
    )
    proofs.add_argument(
        "--proofs",
        nargs=2,
        metavar=("OLD_PROOFS", "NEW_PROOFS"),
        help="two `parsec-tm prove --format json` outputs: also report the proofs and verdicts that changed",
    )
    parser.add_argument("--exit-code", action="store_true", help="exit with 1 when the two revisions differ")
    parser.set_defaults(handler=_diff)
