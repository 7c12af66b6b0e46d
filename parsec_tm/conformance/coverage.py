"""What a conformance campaign exercised: operations × statuses × providers, tenants, life-cycle events, and gaps.

A run that passes says little unless it says what it tried. Every request the machine exchanges is counted by
(Parsec opcode, the status the service answered — the model's expectation against the model alone —, provider);
so are the tenants that sent requests, the machine's rules and the life-cycle events. The report also lists what
never happened: machine rules that never ran (`machine.rule_names`), model operations (`model.step` serves one
per Parsec opcode) never sent, and model statuses (`model.parsec.Status`) never answered. `score` is the share of
those goals reached — rules, operations, statuses, and on an owned service the life-cycle events — which
`parsec-tm fuzz --min-coverage` compares with its threshold. Only the campaign's own run counts, not the replays
of shrinking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LIFECYCLE_KINDS = (
    "reload",
    "bad-reload",
    "graceful-restart",
    "kill-9",
    "crash-after-provider-write",
    "crash-after-mapping-removal",
)


def model_opcodes() -> tuple[str, ...]:
    """The Parsec opcodes the model serves (the request types of `model.step`)."""
    from model.step import _HANDLERS

    return tuple(sorted({request.opcode for request in _HANDLERS}))


def model_statuses() -> tuple[str, ...]:
    from model.parsec import Status

    return tuple(status.value for status in Status)


@dataclass
class Coverage:
    """Counters filled while a campaign runs (`record_*`), and the report made from them."""

    exchanges: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(opcode, status, provider) → requests."""
    tenants: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)

    def record_rule(self, rule: str) -> None:
        self.rules[rule] += 1

    def record_exchange(self, opcode: str, status: str, provider: str, tenant: str | None) -> None:
        self.exchanges[(opcode, status, provider)] += 1
        self.tenants[tenant or "NoAuth"] += 1

    def report(self, events: dict[str, int], *, lifecycle: bool, rules: Sequence[str]) -> dict[str, Any]:
        """The coverage document (JSON-ready): what ran, what never did (of the machine's `rules`), the score."""
        opcodes = {opcode for opcode, _, _ in self.exchanges}
        statuses = {status for _, status, _ in self.exchanges}
        rules_missed = [rule for rule in rules if not self.rules[rule]]
        opcodes_missed = [opcode for opcode in model_opcodes() if opcode not in opcodes]
        statuses_missed = [status for status in model_statuses() if status not in statuses]
        events_missed = [kind for kind in LIFECYCLE_KINDS if lifecycle and not events.get(kind)]
        goals = len(rules) + len(model_opcodes()) + len(model_statuses())
        goals += len(LIFECYCLE_KINDS) if lifecycle else 0
        missed = len(rules_missed) + len(opcodes_missed) + len(statuses_missed) + len(events_missed)
        return {
            "score": round(100.0 * (goals - missed) / goals, 1) if goals else 100.0,
            "requests": sum(self.exchanges.values()),
            "matrix": [
                {"operation": opcode, "status": status, "provider": provider, "count": count}
                for (opcode, status, provider), count in sorted(self.exchanges.items())
            ],
            "tenants": dict(sorted(self.tenants.items())),
            "lifecycle_events": dict(sorted(events.items())),
            "rules": dict(sorted(self.rules.items())),
            "never": {
                "rules": rules_missed,
                "operations": opcodes_missed,
                "statuses": statuses_missed,
                "lifecycle_events": events_missed,
            },
        }


def merge_reports(reports: list[dict[str, Any]], *, lifecycle: bool, rules: Sequence[str]) -> dict[str, Any]:
    """One report for several campaigns (workers): counts added up, gaps and score recomputed."""
    merged = Coverage()
    events: Counter[str] = Counter()
    for report in reports:
        if not report:
            continue
        for cell in report["matrix"]:
            merged.exchanges[(cell["operation"], cell["status"], cell["provider"])] += cell["count"]
        merged.tenants.update(report["tenants"])
        merged.rules.update(report["rules"])
        events.update(report["lifecycle_events"])
    return merged.report(dict(events), lifecycle=lifecycle, rules=rules)


def render_text(report: dict[str, Any]) -> str:
    """The coverage report as the lines `parsec-tm fuzz` prints after its verdict."""
    lines = [
        f"coverage {report['score']}% of rules, operations, statuses and life-cycle events ({report['requests']} "
        "requests)"
    ]
    by_operation: dict[str, list[str]] = {}
    for cell in report["matrix"]:
        by_operation.setdefault(cell["operation"], []).append(f"{cell['status']}@{cell['provider']}×{cell['count']}")
    lines += [f"  {operation}: {', '.join(cells)}" for operation, cells in sorted(by_operation.items())]
    tenants = ", ".join(f"{name}×{count}" for name, count in report["tenants"].items())
    lines.append(f"  tenants: {tenants or 'none'}")
    events = ", ".join(f"{name}×{count}" for name, count in report["lifecycle_events"].items())
    lines.append(f"  life-cycle events: {events or 'none'}")
    for what, missed in report["never"].items():
        if missed:
            lines.append(f"  never: {what.replace('_', ' ')}: {', '.join(missed)}")
    return "\n".join(lines)
