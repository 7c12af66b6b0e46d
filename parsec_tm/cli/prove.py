"""`parsec-tm prove`: the Z3 proofs of the model's invariants and the verdict for every seed mitigation.

Thin wrapper over `properties.prove.run_all`: prints the report as text or JSON and exits 0 when every invariant is
proved, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from model.nouns import VARIANTS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `prove` subcommand."""
    parser = subparsers.add_parser(
        "prove",
        help="prove the model's invariants with Z3 and judge every mitigation of the seed",
        description="Prove every invariant inductive in each deployment variant, then remove each mitigation "
        "M-0..M-7 and O-0..O-10 in turn and report the counterexample it lets through, or why there is none.",
    )
    parser.add_argument("--variant", choices=VARIANTS, help="one deployment variant (default: both)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from properties.prove import run_all

    report = run_all(args.variant)
    data = report.to_dict()
    print(json.dumps(data, indent=2) if args.format == "json" else render_text(data))
    return 0 if report.all_proved else 1


def render_text(data: dict[str, Any]) -> str:
    """The report as a person reads it: one line per proof, one block per mitigation verdict."""
    lines = ["Invariants (Z3, inductive, for any number of tenants and keys)"]
    for entry in data["invariants"]:
        lemmas = ", ".join(entry["strengthening"])
        lines.append(
            f"  {entry['variant']:<9} {entry['id']:<32} {entry['status']:<8} {entry['seconds']:6.2f} s  "
            f"strengthened by: {lemmas}"
        )
        lines += [f"      failing check: {check}" for check in entry["failing_checks"]]
    lines += ["", "Mitigations, each removed in turn"]
    for mutation in data["mutations"]:
        threats = ", ".join(mutation["threats"]) or "-"
        lines.append(f"  {mutation['variant']:<9} {mutation['mitigation']:<5} {mutation['status']:<15} {threats}")
        lines.append(f"      {mutation['reason']}")
        lines += [f"      {step}" for step in mutation["trace"]]
    timing = data["timing"]
    lines += ["", f"proofs {timing['proof_seconds']:.2f} s, total {timing['total_seconds']:.2f} s"]
    return "\n".join(lines)
