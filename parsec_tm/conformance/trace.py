"""A divergence between the service and the model, as a minimal readable trace and a runnable pytest file.

When the service's answer differs from the model's prediction (or a
property of `properties/` fails on the model), Hypothesis shrinks the run to a minimal one and replays it; the
exception raised in that last replay is a `Divergence` carrying the whole trace of it. Each `TraceStep` is one rule
of the machine, written as the call that replays it (`generate_key(tenant=0, name='k0', ...)`), with every
request it sent: what was asked, as whom, what the model expected and what the service answered.

`write_pytest` turns the trace into a test file that replays it step by step through the same machine
(`parsec_tm.conformance.replay`) against a socket (or a software service it starts itself, for traces with crashes
and reloads): it fails while the divergence is there and passes once it is fixed. This module imports no other
part of the harness, so the machine, the runner and the replay can all import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPLAY_SOCKET_ENV = "PARSEC_TM_REPLAY_SOCKET"
"""Overrides the socket a generated replay file talks to."""
REPLAY_WORKLOAD_ENV = "PARSEC_TM_REPLAY_WORKLOAD_ENDPOINT"
"""Overrides the SPIFFE Workload API a generated replay file fetches its JwtSvid tenants' tokens from."""


@dataclass(frozen=True)
class Exchange:
    """One request of a step: what was sent as whom, the model's expected status, the service's answer."""

    request: str
    expected: str
    observed: str | None = None

    def describe(self) -> str:
        if self.observed is None:
            return f"{self.request} → model {self.expected}"
        mark = "" if self.observed == self.expected else "   <-- DIVERGES"
        return f"{self.request} → {self.observed} (model {self.expected}){mark}"


@dataclass
class TraceStep:
    """One rule of the machine: its name and arguments (a replayable call) and the requests it made."""

    rule: str
    arguments: dict[str, Any]
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def replayed(self) -> bool:
        """Whether the step matters to a replay: a rule that sent nothing (an empty `create_keys`) does not."""
        return bool(self.exchanges) or self.rule != "create_keys"

    def call(self) -> str:
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.arguments.items())
        return f"{self.rule}({arguments})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "call": self.call(),
            "requests": [
                {"request": e.request, "expected": e.expected, "observed": e.observed} for e in self.exchanges
            ],
        }


class Divergence(AssertionError):
    """The service and the model disagree; `trace` is the run up to and including the step that shows it."""

    kind = "divergence"

    def __init__(self, message: str, trace: list[TraceStep], target: str, recipe: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.message = message
        self.trace = list(trace)
        self.target = target
        self.recipe = recipe

    def __str__(self) -> str:
        return render_text(self)


class PropertyViolation(Divergence):
    """A step of the model broke an invariant of `properties/` (a model bug, whatever the service does)."""

    kind = "property violation"


def render_text(divergence: Divergence) -> str:
    lines = [f"{divergence.kind} on {divergence.target}: {divergence.message}", "minimal trace:"]
    for number, trace_step in enumerate((s for s in divergence.trace if s.replayed), 1):
        lines.append(f"  {number:>3}. {trace_step.call()}")
        lines.extend(f"         {exchange.describe()}" for exchange in trace_step.exchanges)
    return "\n".join(lines)


def render_json(divergence: Divergence) -> dict[str, Any]:
    return {
        "kind": divergence.kind,
        "target": divergence.target,
        "message": divergence.message,
        "trace": [trace_step.to_dict() for trace_step in divergence.trace if trace_step.replayed],
    }


# ------------------------------------------------------------------------------------------- replay files


def write_pytest(divergence: Divergence, path: Path, *, seed: int | None = None) -> Path:
    """Write a pytest file replaying `divergence`; ValueError if its target cannot be re-created standalone."""
    if divergence.recipe is None:
        raise ValueError(
            f"the trace on {divergence.target} needs the service that campaign started (its providers and state); "
            "it is printed above but cannot be written as a standalone replay"
        )
    found = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    seed_text = f", seed {seed}" if seed is not None else ""
    calls = "\n".join(f"        machine.{trace_step.call()}" for trace_step in divergence.trace if trace_step.replayed)
    header = divergence.message.replace('"""', "'''")
    imports = "from parsec_tm.conformance.machine import KeyRef\n" if "KeyRef(" in calls else ""
    text = f'''"""Replays a {divergence.kind} found by `parsec-tm fuzz` ({found}{seed_text}).

{header}

Target: {divergence.target}. Run `pytest {path.name}`; set {REPLAY_SOCKET_ENV} to replay against another socket
(and, for JwtSvid tenants, {REPLAY_WORKLOAD_ENV} to fetch their tokens from another Workload API).
It fails while the divergence is there and passes once it is fixed.
"""

{imports}from parsec_tm.conformance.replay import replay

RECIPE = {divergence.recipe!r}


def test_replays_{divergence.kind.replace(" ", "_")}() -> None:
    with replay(RECIPE) as machine:
{calls}
'''
    path.write_text(text)
    return path


def dump_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, default=str)
