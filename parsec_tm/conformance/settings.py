"""Budgets and the Hypothesis example database of the stateful conformance campaigns.

Three budgets: `parsec-tm check` runs a short campaign, CI runs a bounded
campaign on each provider (a few thousand steps), and `parsec-tm fuzz` runs as many steps as it is told. A budget
counts *steps* (rule executions), the unit the conformance goals are stated in; Hypothesis counts examples (runs of
the machine from an empty service), so a budget is turned into as many examples as it takes to reach its steps.

The example database is what makes a divergence found by one worker replay on the others: a directory shared by
pytest-xdist workers on one machine (or by machines over a network file system), or a Redis database across
machines (`redis://host:6379/0`, through Hypothesis's `RedisExampleDatabase`; the `redis` package is optional).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Hypothesis is imported where it is used: `parsec-tm --help` reads DEFAULT_STEPS from here
    from hypothesis import settings as HypothesisSettings
    from hypothesis.database import ExampleDatabase

DATABASE_ENV = "PARSEC_TM_FUZZ_DATABASE"
"""Environment variable naming the example database when no `--database` is given (a directory or redis:// URL)."""

DEFAULT_STEPS = 2000
"""`parsec-tm fuzz` without `--steps`; the planted-bug tests show each planted bug is found within this budget."""

STEPS_PER_EXAMPLE = 50
"""Hypothesis's `stateful_step_count`: the longest run of the machine from a fresh start. Short runs, many of them:
Hypothesis's swarm testing enables a random subset of the rules in each run, so a budget spent in a few long runs
left whole rules (key creation, signing) unexercised, which the coverage report showed; 50 reaches every rule in a
few hundred steps."""


@dataclass(frozen=True)
class Budget:
    """How much to run: `steps` rule executions in all, in runs of at most `steps_per_example` steps."""

    steps: int
    steps_per_example: int = STEPS_PER_EXAMPLE
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"a budget needs at least one step (got steps={self.steps})")
        if self.steps_per_example < 1:
            raise ValueError(f"steps_per_example must be at least 1 (got {self.steps_per_example})")

    def examples_for(self, remaining_steps: int) -> int:
        """How many Hypothesis examples to ask for so that about `remaining_steps` steps run."""
        return max(1, math.ceil(remaining_steps / self.steps_per_example))


CHECK_BUDGET = Budget(steps=300, steps_per_example=50)
"""`parsec-tm check`: a short campaign, a few seconds."""

CAMPAIGN_BUDGETS: dict[str, Budget] = {
    "software": Budget(steps=3000),
    "pkcs11": Budget(steps=2000),
    "tpm": Budget(steps=2000),
}
"""CI's bounded campaign per provider, crashes and reloads included (a few thousand steps each)."""


def example_database(spec: str | None) -> ExampleDatabase | None:
    """The database `spec` names: a directory path, a `redis://` URL, or None/"" for none.

    Without a spec the `PARSEC_TM_FUZZ_DATABASE` environment variable is used, so that every pytest-xdist worker
    and every CI machine of one campaign can share a database without a command-line change.
    """
    if spec is None:
        spec = os.environ.get(DATABASE_ENV) or None
    if not spec:
        return None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return _redis_database(spec)
    from hypothesis.database import DirectoryBasedExampleDatabase

    path = Path(spec).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"example database {spec!r} is a file; give a directory or a redis:// URL")
    return DirectoryBasedExampleDatabase(path)


def _redis_database(url: str) -> ExampleDatabase:
    try:
        from hypothesis.extra.redis import RedisExampleDatabase
        from redis import Redis  # type: ignore[import-not-found,unused-ignore]
    except ImportError as error:
        raise ValueError(
            f"example database {url!r} needs the `redis` package, which is not installed: "
            "`pip install redis`, or give a directory instead"
        ) from error
    return RedisExampleDatabase(Redis.from_url(url))


def hypothesis_settings(budget: Budget, remaining_steps: int, database: ExampleDatabase | None) -> HypothesisSettings:
    """Settings for one batch of examples: no deadline (a real service and its crashes are slow), no output."""
    from hypothesis import HealthCheck, Phase, Verbosity
    from hypothesis import settings as HypothesisSettings

    return HypothesisSettings(
        max_examples=budget.examples_for(remaining_steps),
        stateful_step_count=budget.steps_per_example,
        database=database,
        deadline=None,
        derandomize=False,
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
