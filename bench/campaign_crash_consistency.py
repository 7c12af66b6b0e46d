"""The crash-consistency campaign at scale: 200 kill -9 per provider while two clients create and destroy keys.

For each provider — software (MbedCrypto), PKCS#11 on a private SoftHSM2 token, TPM on a private swtpm — starts
`parsec-tm serve` with that provider alone and runs `tests.campaigns.crash_consistency` (its docstring says what a
cycle does and what each check means). The bound is the number of kills per provider. Prints per provider: kills,
keys created and destroyed with an answer, what the requests in flight at the kills became (whole or absent), what
the start-up sweeps removed, orphans and dangling mappings after the last sweep, and the violations (acknowledged
keys lost, destroyed keys back, in-flight keys broken, worker processes outliving a killed supervisor with
`--processes N`: the goal is 0); exits 1 if there was any. A progress bar
is drawn on a TTY. CI runs a slice (tests/campaigns/test_crash_consistency.py).

    .venv/bin/python bench/campaign_crash_consistency.py [--kills 200] [--providers software,pkcs11,tpm]
        [--key-manager SQLite|OnDisk] [--processes N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the campaign and the real-part starters live with the tests

from tests.campaigns.crash_consistency import CrashCampaign, CrashReport  # noqa: E402
from tests.campaigns.parts import PROVIDERS, provider_under_test  # noqa: E402
from tests.fixtures.service import ServiceOptions, running_services  # noqa: E402


def campaign(args: argparse.Namespace, kind: str) -> CrashReport:
    with (
        tempfile.TemporaryDirectory(prefix="ptm-crash-") as scratch,
        provider_under_test(kind, Path(scratch) / "parts") as part,
        running_services(Path(scratch)) as start,
    ):
        options = ServiceOptions(
            providers=(part.table,), log_level="warn", processes=args.processes, manager_type=args.key_manager
        )
        service = start(options)
        kills = args.kills
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=kills, desc=kind, unit="kill", dynamic_ncols=True, leave=False)
        try:
            return CrashCampaign(service, kind, PROVIDERS[kind], args.seed, part.tpm).run(
                kills, args.max_delay, args.audit_every, bar.update if bar is not None else None
            )
        finally:
            if bar is not None:
                bar.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200, help="kill -9 per provider (default 200)")
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated: software,pkcs11,tpm")
    parser.add_argument("--max-delay", type=float, default=0.5, help="kill within this many seconds of the start")
    parser.add_argument(
        "--audit-every", type=int, default=25, help="stop cleanly and look for orphans every N kills (default 25)"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="parsec-tm serve --processes N (above 1: the software provider only)"
    )
    parser.add_argument(
        "--key-manager", choices=("SQLite", "OnDisk"), default="SQLite", help="the key info manager (default SQLite)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    failed = False
    print(
        f"Crash-consistency campaign: {args.kills} kill -9 per provider, each within {args.max_delay} s of a start, "
        f"{args.processes} service process(es), {args.key_manager} key info manager"
    )
    for kind in args.providers.split(","):
        report = campaign(args, kind)
        print(f"\n{report.summary()}")
        for violation in report.violations[:10]:
            print(f"  - {violation}")
        failed = failed or bool(report.violations)
        sys.stdout.flush()
    print(f"\nverdict: {'NOT MET (violations above)' if failed else 'met: 0 violations on every provider'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
