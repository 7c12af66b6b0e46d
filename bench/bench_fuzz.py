"""Steps per second of the conformance machine: against the model alone and against the software provider.

The benchmark of the issue "Stateful conformance" (goals: at least 2,000 steps/s against the model alone, at least
200 steps/s against the service on the software provider, 2,000 steps of `parsec-tm fuzz` well under 25 s). One
run measures, side by side with the same seed and budget:

* the model alone (Hypothesis + `model.step` + the invariants of `properties/`), after a short warm-up run
  that pays the process's one-time costs (imports, Hypothesis scanning the sources for constants);
* `parsec-tm serve` on the software provider reached through its socket as `parsec-tm fuzz` reaches it (not owned:
  no life-cycle events), one connection per request;
* the same service owned, with reloads, restarts and kills in the mix (`LIFECYCLE_PERCENT`), for information.

It prints steps, seconds, steps/s (wall clock, and per CPU second of this process), the goal and the ratio to the
model-alone rate. Steps after a divergence (shrinking) are not counted; a divergence is reported, not hidden.
The machine's load average is printed too: on a shared 2-core machine, figures move with the neighbours.

    .venv/bin/python bench/bench_fuzz.py [--steps 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parsec_tm.conformance.runner import CampaignResult, run_campaign, start_software_target
from parsec_tm.conformance.service import ServiceProcess, software_config
from parsec_tm.conformance.settings import Budget
from parsec_tm.conformance.target import SocketTarget


@dataclass(frozen=True)
class Row:
    label: str
    result: CampaignResult
    cpu_seconds: float
    goal: float | None

    @property
    def cpu_rate(self) -> float:
        return self.result.steps / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


def measure(label: str, goal: float | None, run: Callable[[], CampaignResult]) -> Row:
    cpu = time.process_time()
    result = run()
    return Row(label, result, time.process_time() - cpu, goal)


def external_service(budget: Budget) -> CampaignResult:
    directory = Path(tempfile.mkdtemp(prefix="ptm-bench-", dir="/tmp"))
    socket_path = directory / "parsec.sock"
    (directory / "config.toml").write_text(software_config(directory, socket_path))
    process = ServiceProcess(directory / "config.toml", socket_path, directory)
    process.start()
    try:
        return run_campaign(SocketTarget(process.endpoint, "direct"), budget)
    finally:
        process.stop()
        shutil.rmtree(directory, ignore_errors=True)


def owned_service(budget: Budget) -> CampaignResult:
    target = start_software_target("direct")
    try:
        return run_campaign(target, budget)
    finally:
        target.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    budget = Budget(steps=args.steps, seed=args.seed)
    run_campaign(None, Budget(steps=50, seed=args.seed))  # warm-up: imports, Hypothesis's one-time source scan
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())} ({os.cpu_count()} CPUs)")
    rows = [
        measure("model alone", 2000, lambda: run_campaign(None, budget)),
        measure("software provider, external socket", 200, lambda: external_service(budget)),
        measure("software provider, owned (life cycle)", None, lambda: owned_service(budget)),
    ]
    baseline = rows[0].result.steps_per_second
    print(f"{'target':<40} {'steps':>6} {'s':>7} {'steps/s':>8} {'per CPU s':>9} {'goal':>6} {'vs model':>9}")
    for row in rows:
        result = row.result
        goal = f"{row.goal:.0f}" if row.goal is not None else "-"
        ratio = result.steps_per_second / baseline if baseline else 0.0
        print(
            f"{row.label:<40} {result.steps:>6} {result.seconds:>7.2f} {result.steps_per_second:>8.0f} "
            f"{row.cpu_rate:>9.0f} {goal:>6} {ratio:>8.2f}x"
        )
        if result.divergence is not None:
            print(f"    stopped by a {result.divergence.kind}: {result.divergence.message}")
        if result.events:
            print(f"    life-cycle events: {', '.join(f'{k} {v}' for k, v in sorted(result.events.items()))}")
    external = rows[1].result
    if external.passed and external.steps:
        projected = 2000 / external.steps_per_second
        print(f"2,000 steps of `parsec-tm fuzz` on the software provider: {projected:.1f} s at this rate (goal < 25 s)")
    print(f"load average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
