"""Campaigns as plain data, run in this process or in N worker processes with distinct seeds and one database.

`parsec-tm fuzz --workers N` scales a campaign out over processes (Python threads would share one interpreter
lock): each worker runs its own campaign against the same service, with its own seed (the base seed + its index)
and its own fresh tenant names, and all of them read and write one Hypothesis example database (a directory or
Redis), so a failure one worker found and saved is replayed first by every campaign that starts after it.
Workers start with the `spawn` method (a clean interpreter each: no lock or socket inherited from the parent) and
send back a `CampaignDocument` (a JSON-ready dict), never live objects.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from parsec_tm.conformance.junit import CaseReport

CampaignDocument = dict[str, Any]


@dataclass(frozen=True)
class CampaignSpec:
    """Everything one campaign needs, picklable: the socket and auth, the budget, the database, the options."""

    socket: str
    auth: str
    steps: int
    seed: int | None
    out: str
    database: str | None = None
    workload_endpoint: str | None = None
    deviations: str | None = None
    rsa_encryption: str | None = None
    worker: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"campaign {self.worker} (seed {self.seed})"


def run_spec(spec: CampaignSpec, progress: Any = None) -> CampaignDocument:
    """Run one campaign against `spec.socket` and describe it (the replay file is written on a divergence)."""
    from model.nouns import ProviderId as ModelProviderId
    from parsec_tm.conformance.deviations import Deviations, load
    from parsec_tm.conformance.runner import run_campaign
    from parsec_tm.conformance.settings import Budget, example_database
    from parsec_tm.conformance.target import SocketTarget
    from parsec_tm.conformance.trace import render_json, render_text, write_pytest
    from refimpl.psa import types as t

    deviations = load(Path(spec.deviations)) if spec.deviations else Deviations()
    encryption: dict[ModelProviderId, t.AsymmetricEncryption] = {}
    if spec.rsa_encryption is not None:
        pkcs1 = spec.rsa_encryption == "pkcs1v15"
        encryption[ModelProviderId.MBED_CRYPTO] = t.RsaPkcs1v15Crypt() if pkcs1 else t.RsaOaep(t.Hash.SHA_256)
    target = SocketTarget(f"unix:{spec.socket}", spec.auth, workload_endpoint=spec.workload_endpoint)  # type: ignore[arg-type]
    try:
        result = run_campaign(
            target,
            Budget(steps=spec.steps, seed=spec.seed),
            database=example_database(spec.database or ""),
            progress=progress,
            deviations=deviations,
            encryption=encryption,
        )
    finally:
        target.close()
    document: CampaignDocument = {
        "name": spec.name,
        "passed": result.passed,
        "target": result.target,
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "steps_per_second": round(result.steps_per_second, 1),
        "seed": spec.seed,
        "summary": result.summary(),
        "deviations": result.deviations,
        "coverage": result.coverage,
    }
    if result.divergence is not None:
        document["divergence"] = render_json(result.divergence)
        document["trace"] = render_text(result.divergence)
        document["flaky"] = result.flaky
        try:
            document["replay_file"] = str(write_pytest(result.divergence, Path(spec.out), seed=spec.seed))
        except (ValueError, OSError) as error:
            document["replay_file"] = None
            document["replay_error"] = str(error)
    return document


def run_specs(
    specs: list[CampaignSpec], on_done: Callable[[CampaignDocument], None] | None = None
) -> list[CampaignDocument]:
    """Run the campaigns in as many `spawn`ed worker processes; documents in the order of `specs`."""
    documents: dict[int, CampaignDocument] = {}
    with ProcessPoolExecutor(max_workers=len(specs), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_spec, spec): index for index, spec in enumerate(specs)}
        for future in as_completed(futures):
            index = futures[future]
            try:
                documents[index] = future.result()
            except Exception as error:
                documents[index] = {
                    "name": specs[index].name,
                    "passed": False,
                    "steps": 0,
                    "seconds": 0.0,
                    "seed": specs[index].seed,
                    "summary": f"the worker failed: {type(error).__name__}: {error}",
                    "error": str(error),
                    "deviations": [],
                    "coverage": {},
                }
            if on_done is not None:
                on_done(documents[index])
    return [documents[index] for index in range(len(specs))]


@contextmanager
def shared_database(spec: str | None) -> Iterator[str]:
    """The database the workers share: `spec`, or a temporary directory for this run when none is given."""
    if spec:
        yield spec
        return
    with tempfile.TemporaryDirectory(prefix="ptm-fuzz-db-") as directory:
        yield directory


def case_report(document: CampaignDocument) -> CaseReport:
    """A campaign document as a JUnit test case."""
    failure = None
    if not document["passed"]:
        failure = document.get("divergence", {}).get("message") or document.get("summary", "failed")
    coverage = document.get("coverage") or {}
    return CaseReport(
        name=document["name"],
        seconds=float(document["seconds"]),
        steps=int(document["steps"]),
        seed=document.get("seed"),
        failure=failure,
        trace=document.get("trace", ""),
        replay_file=document.get("replay_file"),
        coverage_score=coverage.get("score"),
        deviations=sum(int(entry["count"]) for entry in document.get("deviations", ())),
        output=document.get("summary", ""),
    )
