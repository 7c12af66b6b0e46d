"""The load campaign at scale: 64 clients × 1,000 mixed requests on each provider, every answer checked.

For each provider — software (MbedCrypto), PKCS#11 on a private SoftHSM2 token, TPM on a private swtpm — starts
`parsec-tm serve` with that provider alone, then runs `tests.campaigns.load` (its docstring says what the mix is
and what counts as an error): all clients start together, each with its own application name and key. The bound
is clients × requests. Prints per provider the requests, time, rate, errors (the goal is 0), latency p50/p99 over
all requests and per request kind; exits 1 if any request failed. CI runs a slice (tests/campaigns/test_load.py).

    .venv/bin/python bench/campaign_load.py [--clients 64] [--requests 1000] [--providers software,pkcs11,tpm]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the campaign and the real-part starters live with the tests

from tests.campaigns.load import LoadReport, run_load, status_counts  # noqa: E402
from tests.campaigns.parts import PROVIDERS, provider_under_test  # noqa: E402
from tests.fixtures.service import ServiceOptions, running_services  # noqa: E402


def campaign(kind: str, clients: int, requests: int, pool: int, seed: int) -> LoadReport:
    with (
        tempfile.TemporaryDirectory(prefix="ptm-load-") as scratch,
        provider_under_test(kind, Path(scratch) / "parts") as part,
        running_services(Path(scratch)) as start,
    ):
        service = start(ServiceOptions(providers=(part.table,), thread_pool_size=pool, log_level="warn"))
        return run_load(service.endpoint, kind, PROVIDERS[kind], clients, requests, seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=1000, help="requests per client (default 1000)")
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated: software,pkcs11,tpm")
    parser.add_argument("--threads", type=int, default=8, help="the service's thread_pool_size (default 8)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    failed = False
    print(f"Load campaign: {args.clients} clients × {args.requests:,} mixed requests, thread_pool_size {args.threads}")
    for kind in args.providers.split(","):
        report = campaign(kind, args.clients, args.requests, args.threads, args.seed)
        print(f"\n{report.summary()}")
        for line in report.by_kind():
            print(f"  {line}")
        if report.errors:
            failed = True
            print(f"  errors by kind: {dict(status_counts(report))}")
            for error in report.errors[:5]:
                print(f"  - {error}")
        sys.stdout.flush()
    print(f"\nverdict: {'NOT MET (errors above)' if failed else 'met: 0 errors on every provider'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
