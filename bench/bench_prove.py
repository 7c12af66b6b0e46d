"""Benchmark of `parsec-tm prove` (`properties.prove.run_all`): the time of each invariant's proof in each deployment,
of encoding the transition relation, of each mitigation's verdict, and of the whole command; then the agreement
check between the model and its Z3 twin (`model.agreement`): runs, behaviours checked, and the (transition
instance, status) pairs covered out of those the twin can produce; and the same for the 2024 revision's
configurations (``--model current``).

Targets: each invariant under 1 s, all of `prove` under 30 s. This script prints figures and their ratio to those
targets; it asserts nothing (the machine's load decides the figures).

Usage: ``.venv/bin/python bench/bench_prove.py``
"""

from __future__ import annotations

import time

from model.agreement import check_agreement, coverage
from model.nouns import VARIANTS
from properties.induction import encode_system, prove
from properties.invariants import INVARIANTS
from properties.mutations import mitigation_ids, verdict
from properties.prove import run_all

INVARIANT_TARGET_S = 1.0
PROVE_TARGET_S = 30.0


def main() -> None:
    print(f"{'variant':<9} {'invariant':<32} {'seconds':>8} {'of 1 s':>7}")
    for variant in VARIANTS:
        system = encode_system(variant)
        print(f"{variant:<9} {'(encoding the transitions)':<32} {system.seconds:8.3f}")
        for invariant in INVARIANTS:
            result = prove(invariant, system)
            print(f"{variant:<9} {invariant.id:<32} {result.seconds:8.3f} {result.seconds / INVARIANT_TARGET_S:6.0%}")
    print()
    print(f"{'variant':<9} {'mitigation':<10} {'verdict':<15} {'seconds':>8}")
    for variant in VARIANTS:
        system = encode_system(variant)
        for mitigation in mitigation_ids():
            started = time.perf_counter()
            outcome = verdict(mitigation, system)
            print(f"{variant:<9} {mitigation:<10} {outcome.status:<15} {time.perf_counter() - started:8.3f}")
    print()
    started = time.perf_counter()
    report = run_all()
    total = time.perf_counter() - started
    slowest = max(report.invariants, key=lambda r: r.seconds)
    print(f"prove, all of it: {total:.2f} s ({total / PROVE_TARGET_S:.0%} of 30 s)")
    print(f"slowest invariant in that run: {slowest.invariant} ({slowest.variant}) {slowest.seconds:.3f} s")
    print(f"report ok (everything proved, every counterexample confirmed): {report.ok}")
    started = time.perf_counter()
    current = run_all(model="current")
    total = time.perf_counter() - started
    failed = sorted({f"{r.invariant} ({r.variant})" for r in current.invariants if r.status != "proved"})
    print(f"prove --model current (GNRC, DSPC, DRCT, JWTS): {total:.2f} s ({total / PROVE_TARGET_S:.0%} of 30 s)")
    print(f"  not proved there (each with its confirmed counterexample): {', '.join(failed) or 'none'}")
    print()
    agreement = check_agreement((*VARIANTS, "DSPC", "JWTS"))
    print(
        f"agreement of the model and its Z3 twin: {agreement.runs} operations run, {agreement.checks} behaviours "
        f"checked against Z3, {len(agreement.disagreements)} disagreements, {agreement.seconds:.2f} s"
    )
    for line in coverage(agreement).lines():
        print(line)


if __name__ == "__main__":
    main()
