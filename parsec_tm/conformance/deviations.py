"""Declared deviations: known, accepted differences between a service and the model, matched and counted.

A deployment may differ from Parsec on purpose (the reference service's PKCS#1 v1.5 implicit rejection), or a
team may accept a known difference until it is fixed. Without a declaration the fuzzer stops at the first such
step every run and never gets past it. `parsec-tm fuzz --deviations FILE` reads a TOML file of entries:

```toml
[[deviation]]
id = "REF-PKCS1-IMPLICIT-REJECTION"        # unique; reported with its count
reason = "why the difference is accepted"
operation = "PsaAsymmetricDecrypt"         # Parsec's opcode name ("*" for any)
field = "status"                           # "status", "result" (any result check) or a result field name
model = "PsaErrorInvalidPadding"           # optional (status matchers): what the model expects
service = "Success"                        # optional (status matchers): what the service answers
providers = ["MbedCrypto"]                 # optional: Parsec provider names the request goes to
```

When a step's difference matches an entry, it is counted under the entry's ID and the run goes on in lockstep:
a status deviation where the service refused what the model accepted sets the model's step aside (the model keeps
its state before the request, as the service did); otherwise the model keeps its own step, and the result checks
of that step are skipped. Declare deviations on operations whose differing outcome leaves the keys as both sides
hold them (key use, reads); a service that creates or destroys a key the model does not is not re-synchronised.
A difference that matches no entry is a divergence, as without the file.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIELDS = ("status", "result")
"""Field matchers with a meaning of their own; any other value names one result field (e.g. "plaintext")."""

REFERENCE_DEVIATIONS = Path(__file__).with_name("refimpl_deviations.toml")
"""The reference service's own deliberate deviations from Parsec, shipped with the tool."""


class DeviationError(ValueError):
    """The deviations file cannot be read or an entry is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Deviation:
    """One declared deviation: its ID and reason, and the matcher (operation, field, statuses, providers)."""

    id: str
    reason: str
    operation: str
    field: str
    model: str | None = None
    service: str | None = None
    providers: frozenset[str] = frozenset()

    def matches(
        self, operation: str, field_name: str, provider: str | None, model: str | None, service: str | None
    ) -> bool:
        """Whether a difference of `field_name` on `operation` (to `provider`) is this deviation."""
        if self.operation not in ("*", operation):
            return False
        if self.providers and provider not in self.providers:
            return False
        if field_name == "status":
            if self.field != "status":
                return False
            return self.model in (None, model) and self.service in (None, service)
        return self.field in ("result", field_name)


@dataclass
class Deviations:
    """The declared deviations of a campaign and how often each matched."""

    entries: tuple[Deviation, ...] = ()
    source: str = ""
    counts: Counter[str] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def match(
        self,
        operation: str,
        field_name: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        service: str | None = None,
    ) -> Deviation | None:
        """The first entry matching this difference, or None."""
        for entry in self.entries:
            if entry.matches(operation, field_name, provider, model, service):
                return entry
        return None

    def count(self, deviation: Deviation) -> None:
        self.counts[deviation.id] += 1

    def report(self) -> list[dict[str, Any]]:
        """Every declared deviation with its count (0 for one that never matched), in file order."""
        return [
            {"id": entry.id, "reason": entry.reason, "operation": entry.operation, "count": self.counts[entry.id]}
            for entry in self.entries
        ]


def _text(entry: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise DeviationError(f"{where}: `{key}` must be a non-empty string")
    return value


def parse(document: dict[str, Any], source: str) -> Deviations:
    """Deviations from a parsed TOML document (`[[deviation]]` tables)."""
    from refimpl.ids import Opcode, ProviderId, Status, camel_case

    opcodes = {opcode.parsec_name for opcode in Opcode} | {"*"}
    statuses = {status.parsec_name for status in Status} | {"no answer"}
    providers = {camel_case(provider.name) for provider in ProviderId}
    unknown = set(document) - {"deviation"}
    if unknown:
        raise DeviationError(f"{source}: unknown top-level keys {sorted(unknown)}; expected [[deviation]] tables")
    entries: list[Deviation] = []
    seen: set[str] = set()
    for index, entry in enumerate(document.get("deviation", []), 1):
        where = f"{source}, deviation {index}"
        if not isinstance(entry, dict):
            raise DeviationError(f"{where}: not a table")
        extra = set(entry) - {"id", "reason", "operation", "field", "model", "service", "providers"}
        if extra:
            raise DeviationError(f"{where}: unknown keys {sorted(extra)}")
        ident = _text(entry, "id", where)
        assert ident is not None
        where = f"{source}, deviation {ident!r}"
        if ident in seen:
            raise DeviationError(f"{where}: the ID is used twice")
        seen.add(ident)
        operation = _text(entry, "operation", where)
        if operation not in opcodes:
            raise DeviationError(f"{where}: operation {operation!r} is not a Parsec opcode name (e.g. PsaSignHash)")
        field_name = _text(entry, "field", where)
        assert field_name is not None
        model, service = _text(entry, "model", where, required=False), _text(entry, "service", where, required=False)
        for name, status in (("model", model), ("service", service)):
            if status is not None and status not in statuses:
                raise DeviationError(f"{where}: {name} {status!r} is not a Parsec status name (e.g. Success)")
        if field_name != "status" and (model or service):
            raise DeviationError(f'{where}: `model` and `service` only go with field = "status"')
        listed = entry.get("providers", [])
        if not isinstance(listed, list) or not set(listed) <= providers:
            raise DeviationError(f"{where}: providers must be a list of {sorted(providers)}")
        reason = _text(entry, "reason", where)
        assert reason is not None and operation is not None
        entries.append(Deviation(ident, reason, operation, field_name, model, service, frozenset(listed)))
    return Deviations(tuple(entries), source)


def load(path: Path) -> Deviations:
    """The deviations declared in the TOML file at `path`."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as error:
        raise DeviationError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise DeviationError(f"{path} is not valid TOML: {error}") from None
    return parse(document, str(path))
