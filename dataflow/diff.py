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
`render_markdown` the forms for a terminal and for a pull-request comment.

When both sides have a formal model, `with_proofs` adds the invariant proofs and mitigation verdicts that changed,
from two ``parsec-tm prove --format json`` documents (this package does not run the prover: its caller does).
They are paired the way the catalogue diff paired the entries: a deployment with the configuration it became
(with-idp's verdicts are compared with GNRC's), a mitigation with its heir, and the rows a counterexample realises
through the threats' pairing, so a renumbered row does not change a verdict.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    the IDs (test markers, evidence). `pairs` is every pairing, changed or not, as (old ID, new ID): what translates
    an old ID into the new revision's (not part of the JSON form).
    """

    added: tuple[Record, ...] = ()
    removed: tuple[Record, ...] = ()
    changed: tuple[Change, ...] = ()
    renumbered: tuple[tuple[str, str], ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()

    @property
    def id_map(self) -> dict[str, str]:
        """Old ID → new ID of every entry present on both sides."""
        return dict(self.pairs)

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


def diff_catalogues(old: Catalogue, new: Catalogue, old_name: str = "old", new_name: str = "new") -> CatalogueDiff:
    """The semantic diff from `old` to `new` (see the module docstring for how entries are paired); `with_proofs`
    adds the proofs and verdicts that changed."""
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
    return CatalogueDiff(old_name, new_name, ordered)


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
    pairs = tuple((str(before["id"]), str(after["id"])) for before, after in pairing.pairs)
    for before, after in pairing.pairs:
        changed = fields(before, after)
        if changed == ("id",):
            renumbered.append((str(before["id"]), str(after["id"])))
        elif changed:
            changes.append(Change(after["id"], before, after, changed))
    return SectionDiff(pairing.added, pairing.removed, tuple(changes), tuple(renumbered), pairs)


PROOF_FIELDS: tuple[str, ...] = ("status", "threats")
"""What a proof or verdict record holds beyond its name: the outcome and (verdicts) the rows its runs realise."""


def with_proofs(diff: CatalogueDiff, old_proofs: Mapping[str, Any], new_proofs: Mapping[str, Any]) -> CatalogueDiff:
    """`diff` with the proofs and verdicts that changed between two ``parsec-tm prove --format json`` documents,
    paired as `diff` paired the deployments, mitigations and rows (see `proof_changes`)."""
    changes = proof_changes(
        old_proofs,
        new_proofs,
        deployments=diff.sections["configurations"].id_map,
        mitigations=diff.sections["mitigations"].id_map,
        threats=diff.sections["threats"].id_map,
    )
    return replace(diff, proofs=changes)


def proof_changes(
    old_proofs: Mapping[str, Any],
    new_proofs: Mapping[str, Any],
    *,
    deployments: Mapping[str, str] | None = None,
    mitigations: Mapping[str, str] | None = None,
    threats: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The invariant proofs and mitigation verdicts that differ between two ``parsec-tm prove --format json`` outputs.

    Each side becomes records ``{"id", "kind", "name", "deployment", "status", "threats"}`` (``kind``: invariant or
    verdict; ``id``: ``"verdict M-2 (GNRC)"``; ``threats``: the rows a verdict's runs realise). An old record is
    compared with the new one of the same kind whose deployment and mitigation are the old ones translated by
    `deployments` and `mitigations` (old ID → new ID; an ID a given mapping lacks has no counterpart; no mapping: the
    same ID), its ``threats`` after translating the old row IDs by `threats`. The result has the shape of a section,
    ``{"added": [record], "removed": [record], "changed": [{"id", "before", "after", "fields"}]}`` (a change of
    ``threats`` also has ``rows``: ``{"gone", "new"}``, both in the new revision's IDs), with
    ``compared`` (how many pairs, changed or not), ``deployments`` (the pairs of deployments, ``{"before",
    "after"}``) and ``renamed`` (old ID → new ID of the mitigations paired under another ID).
    """
    before, after = _proof_records(old_proofs), _proof_records(new_proofs)

    def counterpart(record: Record) -> tuple[str, str, str] | None:
        deployment = _translate(record["deployment"], deployments)
        name = record["name"] if record["kind"] == "invariant" else _translate(record["name"], mitigations)
        return None if deployment is None or name is None else (record["kind"], name, deployment)

    def rows(record: Record) -> list[str]:
        return sorted(_translate(row, threats) or f"{row} (gone)" for row in record["threats"])

    new_by_key = {(r["kind"], r["name"], r["deployment"]): r for r in after}
    matched: set[tuple[str, str, str]] = set()
    paired_deployments: dict[str, str] = {}
    removed: list[Record] = []
    changed: list[dict[str, Any]] = []
    for record in before:
        key = counterpart(record)
        if key is None or key not in new_by_key or key in matched:
            removed.append(record)
            continue
        matched.add(key)
        paired_deployments[record["deployment"]] = key[2]
        other = new_by_key[key]
        fields = [name for name in PROOF_FIELDS if (rows(record) if name == "threats" else record[name]) != other[name]]
        if fields:
            change = {"id": other["id"], "before": record, "after": other, "fields": fields}
            if "threats" in fields:
                change["rows"] = {
                    "gone": [row for row in rows(record) if row not in other["threats"]],
                    "new": [row for row in other["threats"] if row not in rows(record)],
                }
            changed.append(change)
    return {
        "added": _by_deployment([r for r in after if (r["kind"], r["name"], r["deployment"]) not in matched], after),
        "removed": _by_deployment(removed, before),
        "changed": changed,
        "compared": len(matched),
        "deployments": [{"before": old, "after": new} for old, new in paired_deployments.items()],
        "renamed": {old: new for old, new in (mitigations or {}).items() if old != new},
    }


def _by_deployment(records: list[Record], every: list[Record]) -> list[Record]:
    """`records` grouped by deployment, in the order the deployments come in `every` (the side's whole report)."""
    order = {deployment: i for i, deployment in enumerate(dict.fromkeys(r["deployment"] for r in every))}
    return sorted(records, key=lambda record: order[record["deployment"]])


def _translate(identifier: str, mapping: Mapping[str, str] | None) -> str | None:
    return identifier if mapping is None else mapping.get(identifier)


def _proof_records(document: Mapping[str, Any]) -> list[Record]:
    """The invariants and verdicts of a ``prove --format json`` document as comparable records."""
    records: list[Record] = [
        {"id": f"invariant {r['id']} ({r['variant']})", "kind": "invariant", "name": r["id"],
         "deployment": r["variant"], "status": str(r["status"]), "threats": []}
        for r in document.get("invariants", ())
    ]  # fmt: skip
    records += [
        {"id": f"verdict {m['mitigation']} ({m['variant']})", "kind": "verdict", "name": m["mitigation"],
         "deployment": m["variant"], "status": str(m["status"]), "threats": sorted(m.get("threats") or ())}
        for m in document.get("mutations", ())
    ]  # fmt: skip
    return records


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


def _proof_label(change: Mapping[str, Any]) -> str:
    """``verdict O-7 (no-idp → DRCT)``: the new record's name, with the old names where they differ."""
    before, after = change["before"], change["after"]
    name = after["name"] if before["name"] == after["name"] else f"{before['name']} → {after['name']}"
    where = after["deployment"]
    if before["deployment"] != where:
        where = f"{before['deployment']} → {where}"
    return f"{after['kind']} {name} ({where})"


def _proof_change_details(change: Mapping[str, Any], markdown: bool) -> list[str]:
    details = []
    for name in change["fields"]:
        if name == "threats":
            gone, came = change["rows"]["gone"], change["rows"]["new"]
            words = ["−" + ", ".join(f"~~{g}~~" if markdown else g for g in gone)] if gone else []
            words += ["+" + ", ".join(f"**{c}**" if markdown else c for c in came)] if came else []
            details.append(f"rows realised: {' '.join(words)}")
        else:
            details.append(f"{name}: {change['before'][name]} → {change['after'][name]}")
    return details


def _proof_groups(
    records: Iterable[Mapping[str, Any]], renamed: Mapping[str, str]
) -> list[tuple[str, str, list[tuple[str, list[str]]]]]:
    """Records grouped by deployment, kind and status: [(deployment, "invariants", [(status, names)])], deployments
    in order of appearance; a mitigation that lives on under another ID is named with it (``M-4 (now U-7)``)."""
    groups: dict[str, dict[str, dict[str, list[str]]]] = {}
    for record in records:
        by_status = groups.setdefault(record["deployment"], {}).setdefault(f"{record['kind']}s", {})
        name = record["name"]
        if record["kind"] == "verdict" and name in renamed:
            name = f"{name} (now {renamed[name]})"
        by_status.setdefault(record["status"], []).append(name)
    return [
        (deployment, kind, list(kinds[kind].items())) for deployment, kinds in groups.items() for kind in sorted(kinds)
    ]


def _proof_summary(proofs: Mapping[str, Any]) -> str:
    pairs = ", ".join(
        f"{p['before']} → {p['after']}" for p in proofs.get("deployments", ()) if p["before"] != p["after"]
    )
    return (
        f"{proofs.get('compared', 0)} compared{f' ({pairs})' if pairs else ''}, {len(proofs.get('changed', ()))} "
        f"changed, {len(proofs.get('added', ()))} new, {len(proofs.get('removed', ()))} gone"
    )


def _proof_lines(proofs: Mapping[str, Any] | None, markdown: bool) -> list[str]:
    """The proofs and verdicts that changed, then the new and the gone ones grouped by deployment and outcome."""
    if proofs is None:
        return []
    changed, added, removed = proofs.get("changed", ()), proofs.get("added", ()), proofs.get("removed", ())
    renamed = proofs.get("renamed", {})
    if not markdown:
        lines = ["", f"Proofs and verdicts: {_proof_summary(proofs)}"]
        for change in changed:
            lines.append(f"  ~ {_proof_label(change)}: {'; '.join(_proof_change_details(change, markdown=False))}")
        for mark, records in (("+", added), ("-", removed)):
            for deployment, kind, statuses in _proof_groups(records, renamed):
                listed = "; ".join(f"{status}: {', '.join(names)}" for status, names in statuses)
                lines.append(f"  {mark} {deployment} {kind}: {listed}")
        if not changed and proofs.get("compared"):
            lines.append("  no proof or verdict changed in the paired deployments")
        return lines
    lines = ["", "### Proofs and verdicts", "", f"{_proof_summary(proofs)}."]
    if changed:
        lines += ["", "**Changed**", "", "| Proof or verdict | What changed |", "|---|---|"]
        lines += [
            f"| {_cell(_proof_label(c))} | {'<br>'.join(_cell(d) for d in _proof_change_details(c, markdown=True))} |"
            for c in changed
        ]
    elif proofs.get("compared"):
        lines += ["", "No proof or verdict changed in the paired deployments."]
    for title, records in (("New", added), ("Gone", removed)):
        if records:
            lines += ["", f"**{title}**", "", "| Deployment | Kind | Outcome | Entries |", "|---|---|---|---|"]
            lines += [
                f"| {deployment} | {kind} | {status} | {', '.join(names)} |"
                for deployment, kind, statuses in _proof_groups(records, renamed)
                for status, names in statuses
            ]
    return lines
