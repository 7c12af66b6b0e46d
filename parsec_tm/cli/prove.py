"""`parsec-tm prove`: the Z3 proofs of the model's invariants and the verdict for every seed mitigation.

Thin wrapper over `properties.prove.run_all`: prints the report as text or JSON, and exits 0 only when every
invariant selected is proved and every counterexample is confirmed by the Z3 twin; 1 otherwise (a failed,
unconfirmed, unknown or only concretely checked invariant, or an unconfirmed counterexample); 2 when the model
cannot be proved as it stands or an argument names nothing known.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

MODELS = ("seed", "current")
"""The built-in threat models (`properties.prove.MODELS`, named here so that --help does not import the model)."""
VARIANTS = ("with-idp", "no-idp", "GNRC", "DSPC", "DRCT", "JWTS")
"""Their deployments (`model.nouns.VARIANTS` and `CONFIGURATIONS`)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `prove` subcommand."""
    parser = subparsers.add_parser(
        "prove",
        help="prove the model's invariants with Z3 and judge every mitigation of the seed",
        description="Prove every invariant inductive in each deployment of Parsec's threat model (the seed's, or the "
        "2024 revision's four configurations), then remove each of the document's M- and O- mitigations in turn and "
        "report the counterexample it lets through, or why there is none. "
        "A proof that fails comes with the shortest concrete run that breaks the invariant, confirmed by Z3. "
        "Exits 0 only when everything selected is proved and every counterexample is confirmed.",
    )
    parser.add_argument(
        "--model",
        choices=MODELS,
        help="the seed (2020-09-21: with-idp, no-idp; the default) or the current revision (2024-03-25: GNRC, DSPC, "
        "DRCT, JWTS)",
    )
    parser.add_argument("--variant", choices=VARIANTS, help="one deployment (default: every deployment of the model)")
    parser.add_argument(
        "--invariant", nargs="+", metavar="ID", help="prove only these invariants (and judge mitigations on them)"
    )
    parser.add_argument("--mitigation", nargs="+", metavar="ID", help="judge only these mitigations (e.g. M-3 O-8)")
    parser.add_argument("--no-mutations", action="store_true", help="prove the invariants only; judge no mitigation")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up on a solver query after this long; its proof is then 'unknown' (default: 10)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from properties.prove import ModelIncomplete, run_all

    if args.timeout <= 0:
        print("parsec-tm prove: --timeout must be a positive number of seconds", file=sys.stderr)
        return 2
    try:
        report = run_all(
            args.variant,
            model=args.model,
            mutations=not args.no_mutations,
            invariant_ids=args.invariant,
            mitigation_filter=args.mitigation,
            timeout_seconds=args.timeout,
        )
    except (ModelIncomplete, ValueError) as error:
        print(f"parsec-tm prove: {error}", file=sys.stderr)
        return 2
    data = report.to_dict()
    print(json.dumps(data, indent=2) if args.format == "json" else render_text(data))
    return 0 if report.ok else 1


def _trace_lines(trace: dict[str, Any], indent: str) -> list[str]:
    from properties.traces import render

    return [f"{indent}{line}" for line in render(trace)]


def render_text(data: dict[str, Any]) -> str:
    """The report as a person reads it: one line per proof, one block per mitigation verdict."""
    lines = ["Invariants (Z3, inductive, for any number of tenants and keys)"]
    for entry in data["invariants"]:
        lemmas = ", ".join(entry["strengthening"]) or "-"
        lines.append(
            f"  {entry['variant']:<9} {entry['id']:<32} {entry['status']:<18} {entry['seconds']:6.2f} s  "
            f"strengthened by: {lemmas}"
        )
        if entry["reason"]:
            lines.append(f"      {entry['reason']}")
        if entry["failing_checks"]:
            lines.append(f"      failing checks: {', '.join(entry['failing_checks'])}")
        if entry["z3_model"]:
            model = ", ".join(f"{name} = {value}" for name, value in entry["z3_model"].items())
            lines.append(f"      Z3's model of the first failing check: {model}")
        if entry["counterexample"] is not None:
            lines += _trace_lines(entry["counterexample"], "      ")
    lines += ["", "Mitigations, each removed in turn"]
    for mutation in data["mutations"]:
        threats = ", ".join(mutation["threats"]) or "-"
        confirmed = "" if mutation["confirmed"] else "  NOT CONFIRMED"
        lines.append(
            f"  {mutation['variant']:<9} {mutation['mitigation']:<5} {mutation['status']:<15} {threats}{confirmed}"
        )
        if mutation["capabilities"]:
            lines.append(f"      capabilities used: {', '.join(mutation['capabilities'])}")
        lines.append(f"      {mutation['reason']}")
        if mutation["trace"] is not None:
            lines += _trace_lines(mutation["trace"], "      ")
    if data["problems"]:
        lines += ["", "Not proved or not confirmed:"] + [f"  {problem}" for problem in data["problems"]]
    timing = data["timing"]
    lines += ["", f"proofs {timing['proof_seconds']:.2f} s, total {timing['total_seconds']:.2f} s"]
    return "\n".join(lines)
