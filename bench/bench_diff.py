"""Benchmark of following Parsec's threat model across revisions: import two Markdown revisions, diff them.

Measures (wall clock, best of several runs after a cold first run, printed, never asserted) the import of the seed
(2020-09-21) and of the current revision (2024-03-25) from their Markdown text, the semantic diff of the two, its
three renderings, and the whole ``parsec-tm diff`` command as a process. The goal is import and diff of two
revisions under 1 s together; the figures are noisy on a shared machine.

Then, on its own line, the verdict diff of the two built-in models (``parsec-tm diff seed current --verdicts``): both
models proved once (the prover's time, which dominates and has no 1 s goal), and the pairing and comparison of the
two reports (best of several runs).

    .venv/bin/python bench/bench_diff.py [--repeat 5] [--old FILE] [--new FILE] [--no-verdicts]

Without --old/--new the documents are read from ``$PARSEC_TM_SHARED/seed`` (default ``../shared/seed``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench_dataflow import timed  # bench/ is the script's directory: the same timing helper

from dataflow.catalogue import load_catalogue
from dataflow.diff import diff_catalogues, render_markdown, render_text, with_proofs
from dataflow.seed_import import parse_seed
from parsec_tm.verdict_diff import verdict_diff

GOAL_SECONDS = 1.0
SHARED = Path(os.environ.get("PARSEC_TM_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def line(name: str, first: float, best: float) -> None:
    print(f"  {name:<52} first {first * 1000:8.1f} ms   best {best * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after the first")
    parser.add_argument("--old", type=Path, default=SHARED / "seed" / "parsec_threat_model.md")
    parser.add_argument("--new", type=Path, default=SHARED / "seed" / "revisions" / "parsec_threat_model.2024-03-25.md")
    parser.add_argument("--no-verdicts", action="store_true", help="skip the verdict diff (it proves both models)")
    arguments = parser.parse_args()
    repeat = arguments.repeat
    old_text = arguments.old.read_text(encoding="utf-8")
    new_text = arguments.new.read_text(encoding="utf-8")

    print(f"Import and diff: {arguments.old.name} → {arguments.new.name}")
    first_old, best_old, old = timed(lambda: parse_seed(old_text, arguments.old.name), repeat)
    line(f"import {arguments.old.name} ({len(old.threats)} threats)", first_old, best_old)
    first_new, best_new, new = timed(lambda: parse_seed(new_text, arguments.new.name), repeat)
    line(f"import {arguments.new.name} ({len(new.threats)} threats)", first_new, best_new)
    first_diff, best_diff, diff = timed(lambda: diff_catalogues(old, new, "old", "new"), repeat)
    counts = {name: len(s.added) + len(s.removed) + len(s.changed) for name, s in diff.sections.items()}
    line(f"diff ({sum(counts.values())} entries differ)", first_diff, best_diff)
    first, best, _ = timed(lambda: render_text(diff), repeat)
    line("render text", first, best)
    first, best, _ = timed(lambda: render_markdown(diff), repeat)
    line("render Markdown", first, best)
    first, best, _ = timed(lambda: json.dumps(diff.to_document()), repeat)
    line("render JSON", first, best)
    command = [sys.executable, "-m", "parsec_tm", "diff", str(arguments.old), str(arguments.new), "--format", "json"]
    first, best, _ = timed(lambda: subprocess.run(command, check=True, capture_output=True), min(repeat, 2))
    line("`parsec-tm diff OLD NEW` as a process (start-up included)", first, best)
    cold = first_old + first_new + first_diff
    warm = best_old + best_new + best_diff
    print(
        f"  import both + diff: cold {cold:.3f} s, best {warm:.3f} s; goal {GOAL_SECONDS:.0f} s "
        f"({GOAL_SECONDS / cold:.0f}x headroom cold, {GOAL_SECONDS / warm:.0f}x best)"
    )
    if not arguments.no_verdicts:
        verdicts(repeat)


def verdicts(repeat: int) -> None:
    """The verdict diff of the built-in models: proving both (once), then comparing the two reports."""
    models = diff_catalogues(load_catalogue(model="seed"), load_catalogue(model="current"), "seed", "current")
    started = time.perf_counter()
    with_verdicts, reports = verdict_diff(models, "seed", "current")
    proving = time.perf_counter() - started
    first, best, _ = timed(lambda: with_proofs(models, reports["seed"], reports["current"]), repeat)
    proofs = with_verdicts.proofs or {}
    print(f"Verdict diff: seed → current ({proofs.get('compared')} compared, {len(proofs.get('changed', ()))} changed)")
    for model, report in reports.items():
        print(f"  prove {model:<48} {report['timing']['total_seconds']:8.1f} s")
    line("pair and compare the two reports", first, best)
    print(f"  verdict diff, both models proved: {proving:.1f} s (the prover's time; no goal)")


if __name__ == "__main__":
    main()
