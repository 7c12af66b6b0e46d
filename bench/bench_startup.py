"""Benchmark of the command line's start-up: `parsec-tm` commands timed as whole processes, side by side.

Each command runs as a fresh process (the console script next to this interpreter, else `python -m parsec_tm`),
`--repeat` times, round-robin so that a busy machine slows every command alike; the interpreter's own start-up
(`python -c pass`) runs in the same rounds as the floor no command can go below. Printed per command: median and
minimum wall time, the goal, and whether stderr stayed empty (a command that succeeds writes nothing there).

Goals: `--version` and `--help` under 150 ms, `threats` under 300 ms, `report` with its picture under 1 s. The
reference is OWASP pytm 1.4 producing its report for a model smaller than Parsec's: 13.6–13.8 s as a whole
process on this machine kind (not measured here; pytm is not a dependency). The ratio printed is that figure over
our `report` median; the aim is at least 10×.

    .venv/bin/python bench/bench_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PYTM_REPORT_SECONDS = (13.6, 13.8)
"""pytm 1.4, whole process, report of a smaller model than Parsec's (the figure this project compares against)."""
RATIO_AIM = 10.0


@dataclass
class Command:
    """One process to time: its arguments, the goal it must beat (None for the floor), what it wrote on stderr."""

    name: str
    argv: list[str]
    goal_ms: float | None
    times: list[float] = field(default_factory=list)
    stderr: bytes = b""
    returncode: int = 0

    def run(self) -> None:
        started = time.perf_counter()
        finished = subprocess.run(self.argv, capture_output=True, check=False)
        self.times.append(time.perf_counter() - started)
        self.returncode = finished.returncode
        self.stderr = self.stderr or finished.stderr

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.times) * 1000


def parsec_tm_command() -> list[str]:
    """The installed `parsec-tm` script beside this interpreter (what a user runs), else `python -m parsec_tm`."""
    script = Path(sys.executable).with_name("parsec-tm")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "parsec_tm"]


def commands(out: Path) -> list[Command]:
    tool = parsec_tm_command()
    return [
        Command("python -c pass (floor)", [sys.executable, "-c", "pass"], None),
        Command("parsec-tm --version", [*tool, "--version"], 150),
        Command("parsec-tm --help", [*tool, "--help"], 150),
        Command("parsec-tm threats", [*tool, "threats"], 300),
        Command("parsec-tm report --out DIR (svg picture)", [*tool, "report", "--out", str(out)], 1000),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="parsec-tm-bench-startup-"))
    try:
        table = commands(out)
        for command in table:  # one warm-up run each: the page cache and .pyc files, not the figure
            command.run()
            command.times.clear()
        for _ in range(args.repeat):
            for command in table:
                command.run()
    finally:
        shutil.rmtree(out, ignore_errors=True)

    tool = " ".join(table[1].argv[:-1])
    print(f"Start-up of parsec-tm as whole processes ({tool}), {args.repeat} runs each, round-robin")
    print(f"  {'command':<42} {'median':>9} {'min':>9} {'goal':>9}  verdict  stderr")
    for command in table:
        goal = f"{command.goal_ms:.0f} ms" if command.goal_ms is not None else "-"
        verdict = "-" if command.goal_ms is None else "met" if command.median_ms < command.goal_ms else "MISSED"
        if command.returncode != 0:
            verdict = f"exit {command.returncode}"
        stderr = "empty" if not command.stderr else f"NOT EMPTY: {command.stderr.decode(errors='replace')[:160]!r}"
        figures = f"{command.median_ms:7.0f} ms {command.min_ms:6.0f} ms {goal:>9}"
        print(f"  {command.name:<42} {figures}  {verdict:<7}  {stderr}")
    report_seconds = table[-1].median_ms / 1000
    low, high = (seconds / report_seconds for seconds in PYTM_REPORT_SECONDS)
    print(
        f"report vs pytm 1.4 ({PYTM_REPORT_SECONDS[0]}–{PYTM_REPORT_SECONDS[1]} s, whole process, a smaller model): "
        f"{low:.1f}–{high:.1f}× faster (aim {RATIO_AIM:.0f}×)"
    )


if __name__ == "__main__":
    main()
