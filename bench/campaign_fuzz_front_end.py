"""The front-end fuzzing campaign at scale: a million inputs through the real front end and codec, in-process.

Runs `tests.campaigns.front_end_fuzzer` (its docstring says what is generated and what the oracle checks) on a
fresh pipeline: Direct, UnixPeerCredentials and JwtSvid authenticators (a Workload API server in this process),
Core and the software provider, a SQLite key info manager. The bound is the number of inputs. Prints the inputs,
time and rate, the findings by kind (uncaught exceptions, malformed replies, internal errors, client-codec errors:
the goal is 0 of each), how deep it reached (successes by auth type, opcodes answered, statuses) and the first
findings in full; exits 1 if there was any. A progress bar is drawn on a TTY. CI runs a slice of the same
campaign (tests/campaigns/test_front_end_fuzz.py).

    .venv/bin/python bench/campaign_fuzz_front_end.py [--inputs 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the campaign lives with the tests that run its slice

from tests.campaigns.front_end_fuzzer import fuzzer  # noqa: E402

GOAL_INPUTS = 1_000_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=GOAL_INPUTS, help=f"inputs to run (default {GOAL_INPUTS:,})")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args()
    shared = Path(os.environ.get("PARSEC_TM_SHARED", REPO_ROOT.parent / "shared"))
    vectors = shared / "vectors" / "wire-1.0"
    with fuzzer(args.seed, vectors if vectors.is_dir() else None) as campaign:
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=args.inputs, unit="input", unit_scale=True, dynamic_ncols=True, leave=False)
        try:
            report = campaign.run(args.inputs, bar.update if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
    print(f"Front-end fuzzing campaign, seed {args.seed}, golden vectors {'used' if vectors.is_dir() else 'absent'}")
    print(f"  {report.summary()}")
    print(f"  goal: at least {GOAL_INPUTS:,} inputs, 0 uncaught exceptions, every reply a well-formed Parsec response")
    print("  statuses: " + ", ".join(f"{name} {count:,}" for name, count in report.statuses.most_common()))
    for finding in report.findings[:5]:
        print(f"\n{finding}")
    met = report.inputs >= GOAL_INPUTS and not report.uncaught and not report.malformed
    print(f"\nverdict: {'met' if met and not report.findings else 'NOT MET'}")
    return 1 if report.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
