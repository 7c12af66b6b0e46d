"""Running a conformance campaign: a step budget, a target, the example database, and the outcome.

`run_campaign` runs the machine (`machine.ConformanceMachine`) under
Hypothesis until the budget's steps have run or a divergence is found; Hypothesis then shrinks it and replays the
minimal run, whose `Divergence` (with its trace) is the result. The campaign's database key depends only on the
kind of target (authenticator, providers, owned or not), so every worker of one campaign shares its failures
through a shared example database. `start_software_target` starts the reference service on the software provider
for `parsec-tm check`, the benchmark and replay files.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis.database import ExampleDatabase
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from model.nouns import ProviderId as ModelProviderId
from parsec_tm.conformance.deviations import Deviations
from parsec_tm.conformance.machine import LIFECYCLE_PERCENT, Campaign, ConformanceMachine, machine_class, rule_names
from parsec_tm.conformance.progress import Progress
from parsec_tm.conformance.service import ServiceProcess, software_config
from parsec_tm.conformance.settings import Budget, hypothesis_settings
from parsec_tm.conformance.target import AuthMode, OwnedTarget, PeerUsers, Target
from parsec_tm.conformance.trace import Divergence
from refimpl.faults import FAULT_FILE_ENV
from refimpl.psa.types import AsymmetricEncryption


@dataclass(frozen=True)
class CampaignResult:
    """What a campaign did: steps run and seconds spent until a divergence (if any) was first seen, the total
    seconds (shrinking included), and the divergence."""

    target: str
    steps: int
    seconds: float
    total_seconds: float
    divergence: Divergence | None = None
    flaky: bool = False
    events: dict[str, int] = field(default_factory=dict)
    """Life-cycle events run before the divergence (or in all), by kind."""
    deviations: list[dict[str, Any]] = field(default_factory=list)
    """Each declared deviation with how often it matched (`Deviations.report`)."""
    coverage: dict[str, Any] = field(default_factory=dict)
    """What the campaign exercised and what it never did (`coverage.Coverage.report`)."""
    seed: int | None = None

    @property
    def deviation_count(self) -> int:
        return sum(int(entry["count"]) for entry in self.deviations)

    @property
    def passed(self) -> bool:
        return self.divergence is None

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        declared = f", {self.deviation_count} declared deviations" if self.deviations else ""
        if self.divergence is None:
            return f"{self.steps} steps against {self.target} in {self.seconds:.1f} s: no divergence{declared}"
        flaky = " (flaky: it did not fail again on replay)" if self.flaky else ""
        return (
            f"{self.divergence.kind} found after {self.steps} steps against {self.target} ({self.seconds:.1f} s), "
            f"shrunk to {len(self.divergence.trace)} steps ({self.total_seconds - self.seconds:.1f} s){flaky}{declared}"
        )


def campaign_key(target: Target | None) -> bytes:
    """What identifies a campaign in the example database: the kind of target, not its socket or names."""
    if target is None:
        return b"parsec-tm conformance: model alone"
    providers = ",".join(provider.name for provider in target.providers)
    owned = "owned" if target.owns_service else "external"
    return f"parsec-tm conformance: {target.auth_mode} {providers} {owned}".encode()


def run_campaign(
    target: Target | None,
    budget: Budget,
    *,
    database: ExampleDatabase | None = None,
    progress: Progress | None = None,
    lifecycle_percent: int = LIFECYCLE_PERCENT,
    deviations: Deviations | None = None,
    encryption: Mapping[ModelProviderId, AsymmetricEncryption] | None = None,
) -> CampaignResult:
    """Run the machine against `target` (None: the model alone) for `budget.steps` steps or until it diverges.

    `deviations` are counted instead of failing the run; `encryption` replaces the RSA encryption algorithm the
    machine uses on a provider (PKCS#1 v1.5 on the software provider, with its implicit rejection declared)."""
    campaign = Campaign(
        target,
        lifecycle_percent=lifecycle_percent,
        deviations=deviations if deviations is not None else Deviations(),
        encryption=dict(encryption or {}),
    )
    if progress is not None:
        campaign.on_step = progress.advance
        campaign.on_divergence = lambda: progress.note("divergence found; shrinking it")
    started = time.perf_counter()

    def result(divergence: Divergence | None = None, flaky: bool = False) -> CampaignResult:
        ended = time.perf_counter()
        found = campaign.diverged_at if campaign.diverged_at is not None else ended
        elapsed, total = found - started, ended - started
        events = dict(campaign.events)
        declared = campaign.deviations.report()
        lifecycle = campaign.target is not None and campaign.lifecycle_allowed
        covered = campaign.coverage.report(events, lifecycle=lifecycle, rules=rule_names(machine_class(campaign)))
        return CampaignResult(
            campaign.describe, campaign.steps, elapsed, total, divergence, flaky, events, declared, covered, budget.seed
        )

    batch = 0
    while campaign.steps < budget.steps:
        steps_before = campaign.steps
        factory = _factory(campaign, campaign_key(target), None if budget.seed is None else budget.seed + batch)
        settings = hypothesis_settings(budget, budget.steps - campaign.steps, database)
        try:
            run_state_machine_as_test(factory, settings=settings)  # type: ignore[arg-type]  # any factory works
        except Divergence as divergence:
            return result(divergence)
        except Flaky as error:
            # The minimal run did not fail the same way again (a service that is not deterministic, or state a
            # previous run left): report the divergence as it was first seen, marked flaky.
            found = _divergence_in(error) or campaign.first_divergence
            if found is None:
                raise
            return result(found, flaky=True)
        batch += 1
        if campaign.steps == steps_before:
            break  # Hypothesis ran nothing new (an exhausted search space): the budget cannot be spent
    return result()


def _factory(campaign: Campaign, key: bytes, seed: int | None) -> Callable[[], ConformanceMachine]:
    def machine() -> ConformanceMachine:
        return machine_class(campaign)(campaign)

    # Hypothesis keys its example database on the factory's digest: this makes the key the campaign's kind.
    machine._hypothesis_internal_add_digest = key  # type: ignore[attr-defined]
    if seed is not None:
        machine._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    return machine


def _divergence_in(error: BaseException) -> Divergence | None:
    if isinstance(error, Divergence):
        return error
    for inner in getattr(error, "exceptions", ()):
        found = _divergence_in(inner)
        if found is not None:
            return found
    return None


# ----------------------------------------------------------------------------------- a service of our own


def start_software_target(
    auth: AuthMode = "direct",
    *,
    admin: str = "fuzz-admin",
    peer_uids: tuple[int, ...] = (),
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> OwnedTarget:
    """Start the reference service on the software provider in a private /tmp directory, as an OwnedTarget.

    `command` replaces `python -m parsec_tm.cli.serve --config FILE` (the config path is appended); closing the
    target stops the service and removes the directory.
    """
    directory = Path(tempfile.mkdtemp(prefix="ptm-fz-", dir="/tmp"))
    directory.chmod(0o755)  # other Unix users (peer-credential tenants) must reach the socket
    socket_path = directory / "parsec.sock"
    config_path = directory / "config.toml"
    peer_users = PeerUsers(peer_uids) if auth == "peer" else None
    admins = [str(peer_users.admin_uid)] if peer_users is not None else ([admin] if admin else [])
    auth_type = "UnixPeerCredentials" if auth == "peer" else "Direct"
    config_path.write_text(software_config(directory, socket_path, auth_type=auth_type, admins=admins))
    fault_file = directory / "fault"
    service_env = {**(env or {}), FAULT_FILE_ENV: str(fault_file)}
    process = ServiceProcess(
        config_path,
        socket_path,
        directory,
        command=[*command, str(config_path)] if command else (),
        env=service_env,
    )
    try:
        target = OwnedTarget(
            process, auth, admin=admin, peer_users=peer_users, fault_file=fault_file, owned_directory=directory
        )
    except BaseException:
        process.stop()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    recipe: dict[str, Any] = {"software_service": True, "auth": auth, "admin": admin}
    target.recipe = recipe if command is None and auth == "direct" else None
    return target
