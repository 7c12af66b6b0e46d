"""Fuzz steps per second with 1, 2 and 4 workers against the reference service on the software provider.

`parsec-tm fuzz --workers N` runs N campaigns in spawned processes against one service, with distinct seeds and
one example database. This script starts `parsec-tm serve` (software provider, Direct authentication, a thread
pool of 4) once, then for each worker count runs the workers through the same code path as the command
(`parsec_tm.conformance.workers.run_specs`), each worker running `--steps` steps, and prints total steps, wall
seconds (from the first worker's start to the last one's end, process start-up included), aggregate steps/s and
the ratio to one worker, side by side in one run. The service's own CPU is shared with the workers: on a machine
with few cores (and other load) the ratio is bounded by the cores, not by the fuzzer; the load average and the
CPU count are printed with the figures.

    .venv/bin/python bench/bench_fuzz_workers.py [--steps 1000] [--seed 1] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from parsec_tm.conformance.service import ServiceProcess, software_config
from parsec_tm.conformance.workers import CampaignSpec, run_specs


def start_service(directory: Path) -> ServiceProcess:
    socket_path = directory / "parsec.sock"
    config = software_config(directory, socket_path).replace("thread_pool_size = 2", "thread_pool_size = 4")
    (directory / "config.toml").write_text(config)
    process = ServiceProcess(directory / "config.toml", socket_path, directory)
    process.start()
    return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="steps per worker")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="ptm-bench-workers-", dir="/tmp"))
    process = start_service(directory)
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"{'workers':>7} {'steps':>7} {'s':>7} {'steps/s':>8} {'vs 1':>6}  verdicts")
    baseline = 0.0
    try:
        for count in args.workers:
            database = directory / f"db-{count}"
            specs = [
                CampaignSpec(
                    socket=str(process.socket_path),
                    auth="direct",
                    steps=args.steps,
                    seed=args.seed + worker,
                    out=str(directory / f"replay_{count}_{worker}.py"),
                    database=str(database),
                    worker=worker,
                )
                for worker in range(count)
            ]
            started = time.perf_counter()
            documents = run_specs(specs)
            seconds = time.perf_counter() - started
            steps = sum(int(document["steps"]) for document in documents)
            rate = steps / seconds if seconds else 0.0
            baseline = baseline or rate
            verdicts = ", ".join("ok" if document["passed"] else "FAIL" for document in documents)
            print(f"{count:>7} {steps:>7} {seconds:>7.1f} {rate:>8.0f} {rate / baseline:>5.2f}x  {verdicts}")
            for document in documents:
                if not document["passed"]:
                    print(f"    {document['summary']}")
    finally:
        process.stop()
        shutil.rmtree(directory, ignore_errors=True)
    print(f"load average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
