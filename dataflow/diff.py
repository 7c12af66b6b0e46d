"""Semantic diff of two threat-model catalogues (two revisions of Parsec's threat model, or any two catalogues).

Entries are compared as the JSON records of `dataflow.records`, section by section (threats, mitigations,
assumptions, assets, attackers, configurations). Entries are paired by ID *and* by content:

- within a section (threats: within one attacker's rows), every old/new pair is scored by the `difflib` similarity
  of its words, with a bonus for the same ID; pairs are taken best first, each entry at most once. A row whose
  words changed is one change, not a removal and an addition; a row inserted before others pairs with nothing, so
  the later rows still pair with their counterparts and are not changes (a section's ``renumbered`` lists their
  new IDs); an ID reused for different words (the seed's U-5 and the current U-5) pairs by content instead.
- configurations pair by ID, and the seed's two deployments with the revision's configurations they became
  (`CONFIGURATION_CORRESPONDENCE`). A row's ``configurations`` changed when it applies in a different set of the
  paired configurations; applying or not in a configuration that exists on one side only is not a change of the row
  (the configuration itself is listed as added or removed).

`diff_catalogues` returns a `CatalogueDiff`; `CatalogueDiff.to_document` is the JSON form, `render_text` and
`render_markdown` the forms for a terminal and for a pull-request comment. Proof and verdict changes are a hook:
`proof_changes` compares two ``parsec-tm prove --format json`` documents, when both sides have a formal model.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dataflow.catalogue import Catalogue
from dataflow.records import RECORDS, Record

SECTIONS: tuple[str, ...] = tuple(RECORDS)
TEXT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "threats": ("description",),
    "mitigations": ("justification", "details"),
    "assumptions": ("text",),
    "assets": ("name", "description"),
    "attackers": ("name", "description"),
    "configurations": ("title", "description"),
}
"""The fields whose words decide whether two entries are the same entry."""
PAIRING_THRESHOLD = 0.5
"""Two entries with different IDs pair when their words are at least this similar (difflib ratio)."""
SAME_ID_THRESHOLD = 0.3
"""Two entries with the same ID pair when their words are at least this similar."""
SAME_ID_BONUS = 0.15
CONFIGURATION_CORRESPONDENCE: Mapping[str, str] = {"with-idp": "GNRC", "no-idp": "DRCT"}
"""The seed's deployments and the configurations of later revisions that describe them: the generic deployment with
an Identity Provider is GNRC; the seed's deployment without one, where "all clients trust each other", is DRCT."""
IGNORED_FIELDS = frozenset({"id"})
"""Fields that are not compared as such: the ID, compared apart (a change of ID alone is a renumbering)."""


@dataclass(frozen=True)
class Change:
    """One entry present on both sides: its new ID, both records, and the fields that differ (``id`` first)."""

    id: str
    before: Record
    after: Record
    fields: tuple[str, ...]

    def to_document(self) -> dict[str, Any]:
        return {"id": self.id, "before": self.before, "after": self.after, "fields": list(self.fields)}


@dataclass(frozen=True)
class SectionDiff:
    """The entries of one section added, removed and changed between two catalogues.

    `renumbered` lists the entries whose only difference is their ID, as (old ID, new ID): the rows after an
    inserted row of the same attacker and letter. They are not changes of the rows; they matter to whatever cites
    the IDs (test markers, evidence).
    """

    added: tuple[Record, ...] = ()
    removed: tuple[Record, ...] = ()
    changed: tuple[Change, ...] = ()
    renumbered: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.renumbered)

    def to_document(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [change.to_document() for change in self.changed],
            "renumbered": [{"before": before, "after": after} for before, after in self.renumbered],
        }


@dataclass(frozen=True)
class CatalogueDiff:
    """The semantic diff of two catalogues, section by section, with optional proof and verdict changes."""

    old_name: str
    new_name: str
    sections: Mapping[str, SectionDiff]
    proofs: Mapping[str, Any] | None = field(default=None)

    @property
    def empty(self) -> bool:
        proofs_empty = not self.proofs or not any(self.proofs.get(key) for key in ("added", "removed", "changed"))
        return all(section.empty for section in self.sections.values()) and proofs_empty

    def to_document(self) -> dict[str, Any]:
        """The JSON form: ``{"threats": {"added", "removed", "changed", "renumbered"}, …, "configurations": …}``."""
        document: dict[str, Any] = {name: section.to_document() for name, section in self.sections.items()}
        if self.proofs is not None:
            document["proofs"] = dict(self.proofs)
        return document


def diff_catalogues(
    old: Catalogue,
    new: Catalogue,
    old_name: str = "old",
    new_name: str = "new",
    proofs: Mapping[str, Any] | None = None,
) -> CatalogueDiff:
    """The semantic diff from `old` to `new` (see the module docstring for how entries are paired).

    `proofs` is the result of `proof_changes` when both sides have a formal model; it is reported as is.
    """
    old_records = {name: [make(old, entry) for entry in entries(old)] for name, (entries, make) in RECORDS.items()}
    new_records = {name: [make(new, entry) for entry in entries(new)] for name, (entries, make) in RECORDS.items()}
    configurations = _pair_configurations(old_records["configurations"], new_records["configurations"])
    mapping = {before["id"]: after["id"] for before, after in configurations.pairs}
    sections = {"configurations": _section(configurations, lambda b, a: _changed_fields(b, a, mapping))}
    for name in SECTIONS:
        if name == "configurations":
            continue
        bucket = _attacker_bucket if name == "threats" else _one_bucket
        pairing = _pair(old_records[name], new_records[name], TEXT_FIELDS[name], bucket)
        sections[name] = _section(pairing, lambda b, a: _changed_fields(b, a, mapping))
    ordered = {name: sections[name] for name in SECTIONS}
    return CatalogueDiff(old_name, new_name, ordered, proofs)


@dataclass(frozen=True)
class _Pairing:
    pairs: tuple[tuple[Record, Record], ...]
    removed: tuple[Record, ...]
    added: tuple[Record, ...]


def _attacker_bucket(record: Record) -> str:
    return str(record["attacker"])


def _one_bucket(record: Record) -> str:
    return ""


def _words(record: Record, fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(" ".join(str(record.get(name) or "") for name in fields).lower().split())


def _pair(
    old: Sequence[Record], new: Sequence[Record], fields: Sequence[str], bucket: Callable[[Record], str]
) -> _Pairing:
    """Pair entries best first by word similarity (same ID: a bonus and a lower bar), within buckets.

    Entries with the same ID and the same words pair at once (most entries of two revisions); only the rest are
    scored against each other, word by word.
    """
    old_words = [_words(record, fields) for record in old]
    new_words = [_words(record, fields) for record in new]
    new_by_id = {record["id"]: j for j, record in enumerate(new)}
    candidates: list[tuple[float, int, int]] = []
    settled_old: set[int] = set()
    settled_new: set[int] = set()
    for i, before in enumerate(old):
        j = new_by_id.get(before["id"], -1)
        if j >= 0 and old_words[i] == new_words[j] and bucket(before) == bucket(new[j]):
            candidates.append((1.0 + SAME_ID_BONUS, i, j))
            settled_old.add(i)
            settled_new.add(j)
    for i, before in enumerate(old):
        if i in settled_old:
            continue
        matcher = difflib.SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(old_words[i])
        for j, after in enumerate(new):
            if j in settled_new or bucket(before) != bucket(after):
                continue
            same_id = before["id"] == after["id"]
            threshold = SAME_ID_THRESHOLD if same_id else PAIRING_THRESHOLD
            matcher.set_seq1(new_words[j])
            if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                continue
            similarity = matcher.ratio()
            if similarity >= threshold:
                candidates.append((similarity + (SAME_ID_BONUS if same_id else 0.0), i, j))
    return _greedy(old, new, candidates)


def _greedy(old: Sequence[Record], new: Sequence[Record], candidates: list[tuple[float, int, int]]) -> _Pairing:
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, i, j in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((i, j))
    pairs.sort(key=lambda pair: pair[1])
    return _Pairing(
        pairs=tuple((old[i], new[j]) for i, j in pairs),
        removed=tuple(record for i, record in enumerate(old) if i not in used_old),
        added=tuple(record for j, record in enumerate(new) if j not in used_new),
    )


def _pair_configurations(old: Sequence[Record], new: Sequence[Record]) -> _Pairing:
    """Configurations pair by ID, or by `CONFIGURATION_CORRESPONDENCE` (the seed's deployments and their heirs)."""
    new_ids = {record["id"]: j for j, record in enumerate(new)}
    candidates = []
    for i, record in enumerate(old):
        for identifier, score in ((record["id"], 2.0), (CONFIGURATION_CORRESPONDENCE.get(record["id"]), 1.0)):
            if identifier in new_ids:
                candidates.append((score, i, new_ids[identifier]))
    return _greedy(old, new, candidates)


def _changed_fields(before: Record, after: Record, mapping: Mapping[str, str]) -> tuple[str, ...]:
    changed = ["id"] if before["id"] != after["id"] else []
    for name in after:
        if name in IGNORED_FIELDS:
            continue
        if name == "configurations":
            if _applicability(before[name], mapping, old=True) != _applicability(after[name], mapping, old=False):
                changed.append(name)
        elif before.get(name) != after.get(name):
            changed.append(name)
    return tuple(changed)


def _applicability(configurations: Iterable[str], mapping: Mapping[str, str], old: bool) -> frozenset[str]:
    """The paired configurations (named as on the new side) in which an entry applies."""
    if old:
        return frozenset(mapping[c] for c in configurations if c in mapping)
    paired = set(mapping.values())
    return frozenset(c for c in configurations if c in paired)


def _section(pairing: _Pairing, fields: Callable[[Record, Record], tuple[str, ...]]) -> SectionDiff:
    changes = []
    renumbered = []
    for before, after in pairing.pairs:
        changed = fields(before, after)
        if changed == ("id",):
            renumbered.append((str(before["id"]), str(after["id"])))
        elif changed:
            changes.append(Change(after["id"], before, after, changed))
    return SectionDiff(pairing.added, pairing.removed, tuple(changes), tuple(renumbered))


def proof_changes(old_proofs: Mapping[str, Any], new_proofs: Mapping[str, Any]) -> dict[str, Any]:
    """The invariant proofs and mitigation verdicts that differ between two ``parsec-tm prove --format json`` outputs.

    Keys are ``"invariant <id> (<variant>)"`` and ``"verdict <mitigation> (<variant>)"``; the result has the shape of
    a section: ``{"added": [{"id", "status"}], "removed": […], "changed": [{"id", "before", "after"}]}``.
    """
    before, after = _statuses(old_proofs), _statuses(new_proofs)
    return {
        "added": [{"id": key, "status": after[key]} for key in after if key not in before],
        "removed": [{"id": key, "status": before[key]} for key in before if key not in after],
        "changed": [
            {"id": key, "before": before[key], "after": after[key]}
            for key in after
            if key in before and before[key] != after[key]
        ],
    }


def _statuses(document: Mapping[str, Any]) -> dict[str, str]:
    statuses = {f"invariant {r['id']} ({r['variant']})": str(r["status"]) for r in document.get("invariants", ())}
    statuses |= {f"verdict {m['mitigation']} ({m['variant']})": str(m["status"]) for m in document.get("mutations", ())}
    return statuses


# -- readable forms ---------------------------------------------------------------------------------------------------


def word_diff(before: str, after: str, deleted: tuple[str, str], inserted: tuple[str, str]) -> str:
    """`after` with the words taken out and put in marked, e.g. ``[-old-]{+new+}`` or ``~~old~~ **new**``."""
    old_words, new_words = before.split(), after.split()
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(" ".join(old_words[i1:i2]))
            continue
        if tag in ("replace", "delete"):
            parts.append(f"{deleted[0]}{' '.join(old_words[i1:i2])}{deleted[1]}")
        if tag in ("replace", "insert"):
            parts.append(f"{inserted[0]}{' '.join(new_words[j1:j2])}{inserted[1]}")
    return " ".join(parts)


def _value(record: Record, name: str) -> str:
    value = record.get(name)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    return "" if value is None else str(value)


def _list_change(before: Record, after: Record, name: str, markdown: bool) -> str:
    old, new = list(before.get(name) or []), list(after.get(name) or [])
    gone = [item for item in old if item not in new]
    came = [item for item in new if item not in old]
    if not gone and not came:
        return f"{_value(before, name)} → {_value(after, name)}"
    words = []
    if gone:
        words.append("−" + ", ".join(f"~~{g}~~" if markdown else g for g in gone))
    if came:
        words.append("+" + ", ".join(f"**{c}**" if markdown else c for c in came))
    return " ".join(words)


def describe_change(change: Change, markdown: bool = False) -> list[str]:
    """One line per changed field of a change, readable in a terminal or (``markdown``) in a pull request."""
    deleted, inserted = (("~~", "~~"), ("**", "**")) if markdown else (("[-", "-]"), ("{+", "+}"))
    lines = []
    for name in change.fields:
        before, after = change.before.get(name), change.after.get(name)
        if name == "id":
            lines.append(f"id: {change.before['id']} → {change.after['id']}")
        elif name == "configurations":
            lines.append(f"{name}: {_value(change.before, name)} → {_value(change.after, name)}")
        elif isinstance(after, list) or isinstance(before, list):
            lines.append(f"{name}: {_list_change(change.before, change.after, name, markdown)}")
        elif isinstance(after, str) and isinstance(before, str) and len(before) + len(after) > 40:
            lines.append(f"{name}: {word_diff(before, after, deleted, inserted)}")
        else:
            lines.append(f"{name}: {_value(change.before, name) or 'none'} → {_value(change.after, name) or 'none'}")
    return lines


def _summary_of(record: Record) -> str:
    for name in ("description", "justification", "text", "title", "name"):
        if record.get(name):
            return " ".join(str(record[name]).split())
    return ""


def _scope(record: Record) -> str:
    configurations = record.get("configurations")
    return f" [{', '.join(configurations)}]" if configurations else ""


def render_text(diff: CatalogueDiff) -> str:
    """The diff for a terminal: a summary line per section, then ``+``/``-``/``~`` lines per entry."""
    lines = [f"Threat model changes: {diff.old_name} → {diff.new_name}"]
    if diff.empty:
        return "\n".join([*lines, "No changes."]) + "\n"
    for name, section in diff.sections.items():
        counts = f"{len(section.added)} added, {len(section.removed)} removed, {len(section.changed)} changed"
        if section.renumbered:
            counts += f", {len(section.renumbered)} renumbered"
        lines += ["", f"{name.capitalize()}: {counts}"]
        lines += [f"  + {r['id']}{_scope(r)} {_summary_of(r)}" for r in section.added]
        lines += [f"  - {r['id']}{_scope(r)} {_summary_of(r)}" for r in section.removed]
        for change in section.changed:
            details = describe_change(change)
            lines.append(f"  ~ {change.id}: {details[0]}")
            lines += [f"      {detail}" for detail in details[1:]]
        if section.renumbered:
            moves = ", ".join(f"{before} → {after}" for before, after in section.renumbered)
            lines.append(f"  renumbered, words unchanged: {moves}")
    lines += _proof_lines(diff.proofs, markdown=False)
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(diff: CatalogueDiff) -> str:
    """The diff as a pull-request comment: a summary table, then per section tables of added, removed, changed."""
    lines = [f"## Threat model changes: `{diff.old_name}` → `{diff.new_name}`", ""]
    if diff.empty:
        return "\n".join([*lines, "No changes."]) + "\n"
    lines += ["| Section | Added | Removed | Changed |", "|---|---:|---:|---:|"]
    for name, section in diff.sections.items():
        lines.append(
            f"| {name.capitalize()} | {len(section.added)} | {len(section.removed)} | {len(section.changed)} |"
        )
    for name, section in diff.sections.items():
        if section.empty:
            continue
        lines += ["", f"### {name.capitalize()}"]
        for title, entries in (("Added", section.added), ("Removed", section.removed)):
            if entries:
                lines += ["", f"**{title}**", "", "| ID | Configurations | Summary |", "|---|---|---|"]
                lines += [
                    f"| {r['id']} | {', '.join(r.get('configurations') or [])} | {_cell(_summary_of(r))} |"
                    for r in entries
                ]
        if section.changed:
            lines += ["", "**Changed**", "", "| ID | What changed |", "|---|---|"]
            lines += [
                f"| {c.id} | {'<br>'.join(_cell(d) for d in describe_change(c, markdown=True))} |"
                for c in section.changed
            ]
        if section.renumbered:
            moves = ", ".join(f"{before} → {after}" for before, after in section.renumbered)
            lines += ["", f"**Renumbered** (words unchanged): {moves}"]
    lines += _proof_lines(diff.proofs, markdown=True)
    return "\n".join(lines) + "\n"


def _proof_lines(proofs: Mapping[str, Any] | None, markdown: bool) -> list[str]:
    if proofs is None:
        return []
    heading = ["", "### Proofs and verdicts", ""] if markdown else ["", "Proofs and verdicts:"]
    bullet = "- " if markdown else "  "
    body = [f"{bullet}{p['id']}: {p['before']} → {p['after']}" for p in proofs.get("changed", ())]
    body += [f"{bullet}{p['id']}: new, {p['status']}" for p in proofs.get("added", ())]
    body += [f"{bullet}{p['id']}: gone (was {p['status']})" for p in proofs.get("removed", ())]
    return [*heading, *(body or [f"{bullet}no proof or verdict changed"])]
