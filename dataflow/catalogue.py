"""The Parsec threat model's catalogue as typed, immutable data: the single source of truth for every seed ID.

Implements the seed (``parsec_threat_model.md``) sections *Assumptions* (ASUM-1…6), *Assets* (AS1–AS8),
*Attackers* (A1–A11 and their STRIDE tables), *Unmitigations* (U-), *Mitigations* (M-) and *Operational
mitigations* (O-), plus the seed's italic text: the deployment without an Identity Provider, a `Variant`.

The data lives in ``dataflow/data/catalogue.json`` (generated once by `dataflow.seed_import`, now the source of
truth). `load_catalogue` validates it against `dataflow.schema` and raises `CatalogueError` naming the entry and
field of the first bad entries. Referential integrity (does every named ID exist?) is not a load-time concern: it is
reported by `dataflow.checks` so that a catalogue with a dangling reference can still be loaded and diagnosed.

Threat IDs are ``<attacker>-<STRIDE letter>-<n>``, n counting that attacker's threats of that letter in seed order
(``A1-S-1``, ``A1-S-2``, ``A1-T-1``…). The seed's "N/A" rows are `NotApplicable` entries, not threats.

Differences between the seed and this catalogue, and the seed's own inconsistencies, are listed in `DIFFERENCES`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from dataflow.errors import CatalogueError
from dataflow.schema import validate_catalogue_document

STRIDE: tuple[str, ...] = ("S", "T", "R", "I", "D", "E")
STRIDE_NAMES: Mapping[str, str] = {
    "S": "Spoofing",
    "T": "Tampering",
    "R": "Repudiation",
    "I": "Information disclosure",
    "D": "Denial of service",
    "E": "Elevation of privilege",
}
MitigationKind = Literal["U", "M", "O"]
MITIGATION_KIND_NAMES: Mapping[str, str] = {
    "U": "Unmitigation",
    "M": "Mitigation",
    "O": "Operational mitigation",
}
BASE_VARIANT = "with-idp"
NO_IDP_VARIANT = "no-idp"
ALL_CONFIGURATIONS = "all"
"""The base variant of a document with configuration markers: every row of every configuration, as written."""
DATA_FILE = "catalogue.json"
SEED_MODEL = "seed"
CURRENT_MODEL = "current"
BUILTIN_MODELS: Mapping[str, str] = {SEED_MODEL: DATA_FILE, CURRENT_MODEL: "catalogue-2024-03-25.json"}
"""The built-in models by name: the seed (2020-09-21, the default) and the current revision (2024-03-25)."""
REFERENCE_PATTERN = re.compile(r"\b(?:ASUM|[UMO])-\d+\b")

DIFFERENCES: tuple[str, ...] = (
    "Row count: the issue says 69 threats; the seed has 75 STRIDE rows of which 7 are N/A (A3 S/R/I/E, A6-E, A8-E "
    "and A10-I 'N/A - the trust bundle contains public information'), so the catalogue holds 68 threats. The "
    "no-IdP variant holds 44 = 68 - A1's 10 - A2's 8 - A10's 6, which the issue states correctly.",
    "A3-T-1 names only an assumption (ASUM-3), no U-, M- or O- entry: the check that every threat has a disposition "
    "accepts an assumption, and queries that ask for M-/O- mitigations list A3-T-1 as unmitigated.",
    "AS7 (Key Triple Mappings) and AS8 (Logs) are never named in a threat row: they are impacted only through the "
    "rows whose Assets cell says 'All' (or 'AS2 and then all'), which the catalogue expands to AS1-AS8.",
    "O-10 is named by no threat row: it exists for the no-IdP deployment, whose exclusion of A1, A2 and A10 is "
    "contingent on it (seed: 'dependent on the O-10 mitigation being deployed').",
    "Unmitigation U-1 does not exist in the seed (the table goes U-0, U-2, U-3, U-4, U-5); IDs are kept as the seed "
    "numbers them, never renumbered.",
    "The seed's Unmitigations table calls its third column 'Consequences'; `Mitigation.details` holds it.",
    "A11's table has a single row (I): its other STRIDE letters are neither analysed nor marked N/A in the seed; the "
    "dataflow graph records the reason on A11's flow (see dataflow.graph).",
    "'AS2 and then all' (A10-S-1, A10-T-1) is expanded to AS1-AS8 like 'All'; the seed's wording is kept as the "
    "threat's assets_cell and as a note. 'Depends on the attack' (A2-I-2) is an empty asset list plus a note.",
)


@dataclass(frozen=True)
class Assumption:
    """One of the seed's numbered assumptions (ASUM-n): a requirement for the service to operate securely."""

    id: str
    text: str


@dataclass(frozen=True)
class Asset:
    """What the model protects (ASn), with the seed's text for each of its security properties (None: not stated)."""

    id: str
    name: str
    description: str
    confidentiality: str | None = None
    integrity: str | None = None
    availability: str | None = None


@dataclass(frozen=True)
class Attacker:
    """An attacker position (An) of the seed: the dataflow it sits on is bound in `dataflow.graph`."""

    id: str
    name: str
    description: str


@dataclass(frozen=True)
class Qualifier:
    """A labelled group of mitigation IDs inside one seed cell, e.g. ``Crashes: M-0, M-5``."""

    label: str
    mitigations: tuple[str, ...]


@dataclass(frozen=True)
class Threat:
    """One analysed STRIDE row of an attacker's table.

    `mitigations` lists every ID the seed's Mitigation cell names (U-, M-, O-, ASUM-) in seed order; `assets` the
    asset IDs with "All" expanded; `assets_cell` the seed's own Assets text; `qualifiers` the labelled groups of a
    cell such as ``Crashes: M-0, M-5 Overloads: U-0``.
    """

    id: str
    attacker: str
    stride: str
    description: str
    mitigations: tuple[str, ...]
    assets: tuple[str, ...]
    assets_cell: str = ""
    notes: tuple[str, ...] = ()
    qualifiers: tuple[Qualifier, ...] = ()

    @property
    def mitigations_cell(self) -> str:
        """The Mitigation cell as the seed writes it."""
        if self.qualifiers:
            return " ".join(f"{q.label}: {', '.join(q.mitigations)}" for q in self.qualifiers)
        return ", ".join(self.mitigations)

    @property
    def qualifier_map(self) -> dict[str, tuple[str, ...]]:
        """The qualifiers as a mapping, e.g. ``{"Crashes": ("M-0", "M-5"), "Overloads": ("U-0",)}``."""
        return {q.label: q.mitigations for q in self.qualifiers}


@dataclass(frozen=True)
class NotApplicable:
    """A seed row whose description is "N/A": the letter was analysed and judged not applicable (`text` verbatim)."""

    attacker: str
    stride: str
    text: str

    @property
    def reason(self) -> str:
        """The reason the seed gives after "N/A - ", or "" when it gives none."""
        return self.text.removeprefix("N/A").lstrip(" -")


@dataclass(frozen=True)
class Mitigation:
    """An entry of the Unmitigations (U-), Mitigations (M-) or Operational mitigations (O-) tables.

    `details` holds the seed's Details column (Consequences for unmitigations). `variant` names the deployment
    variant a row belongs to when the seed writes it in italic (O-10), else None.
    """

    id: str
    kind: MitigationKind
    justification: str
    details: str
    variant: str | None = None

    @property
    def number(self) -> int:
        """The number after the dash: 3 for ``M-3``."""
        return int(self.id.split("-")[1])


@dataclass(frozen=True)
class Exclusion:
    """A catalogue entry (attacker, asset, assumption, threat or mitigation ID) a variant takes out of scope.

    `reason` holds the document's words: the seed's italic text, or a configuration marker such as
    ``(GNRC, JWTS)`` or ``Not applicable for deployment (DSPC). The OS is trusted…``.
    """

    subject: str
    reason: str


@dataclass(frozen=True)
class Variant:
    """A deployment the document describes: the seed's generic one or the one without an Identity Provider (italic
    text), or a configuration of a revision with configuration markers (GNRC, DSPC, DRCT, JWTS).

    `exclusions` lists what does not apply; `contingent_on` the mitigation IDs the exclusions depend on. The first
    variant of a catalogue is its base: the document as written (``with-idp`` for the seed, ``all`` for a revision
    with configurations).
    """

    id: str
    title: str
    description: str
    scope_note: str = ""
    contingent_on: tuple[str, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()

    def excludes(self, subject: str) -> bool:
        """Whether this variant takes `subject` (an attacker, asset or assumption ID) out of scope."""
        return any(e.subject == subject for e in self.exclusions)

    def excluded_ids(self, prefix: str) -> tuple[str, ...]:
        """The excluded IDs of one family, e.g. ``excluded_ids("AS")`` → ``("AS1", "AS2")``.

        Families: "ASUM", "AS", "A" (attackers), "T" (threats such as ``A1-S-3``), "U", "M", "O".
        """
        return tuple(e.subject for e in self.exclusions if _id_family(e.subject) == prefix)


def _id_family(identifier: str) -> str:
    """The family of an ID: "ASUM", "AS", "A", "T" (a threat), "U", "M" or "O"."""
    if re.fullmatch(r"A\d+-[STRIDE]-\d+", identifier):
        return "T"
    match = re.match(r"^(ASUM|AS|A|[UMO])-?\d", identifier)
    return match.group(1) if match else ""


@dataclass(frozen=True)
class Catalogue:
    """The whole seed as data, in seed order, for one deployment variant (`variant_id`)."""

    assumptions: tuple[Assumption, ...]
    assets: tuple[Asset, ...]
    attackers: tuple[Attacker, ...]
    threats: tuple[Threat, ...]
    not_applicable: tuple[NotApplicable, ...]
    mitigations: tuple[Mitigation, ...]
    variants: tuple[Variant, ...]
    variant_id: str = BASE_VARIANT

    @cached_property
    def _by_id(self) -> dict[str, object]:
        entries: Iterable[Assumption | Asset | Attacker | Threat | Mitigation] = (
            *self.assumptions,
            *self.assets,
            *self.attackers,
            *self.threats,
            *self.mitigations,
        )
        return {entry.id: entry for entry in entries}

    def __contains__(self, identifier: object) -> bool:
        return identifier in self._by_id

    def _lookup(self, identifier: str, kind: type[Any], what: str) -> Any:
        entry = self._by_id.get(identifier)
        if not isinstance(entry, kind):
            known = ", ".join(e for e, v in self._by_id.items() if isinstance(v, kind))
            raise CatalogueError(f"unknown {what} {identifier!r} in variant {self.variant_id!r}; defined: {known}")
        return entry

    def threat(self, identifier: str) -> Threat:
        """The threat with this ID, e.g. ``threat("A1-S-1")``."""
        return self._lookup(identifier, Threat, "threat")  # type: ignore[no-any-return]

    def asset(self, identifier: str) -> Asset:
        """The asset with this ID, e.g. ``asset("AS3")``."""
        return self._lookup(identifier, Asset, "asset")  # type: ignore[no-any-return]

    def attacker(self, identifier: str) -> Attacker:
        """The attacker with this ID, e.g. ``attacker("A1")``."""
        return self._lookup(identifier, Attacker, "attacker")  # type: ignore[no-any-return]

    def mitigation(self, identifier: str) -> Mitigation:
        """The U-, M- or O- entry with this ID, e.g. ``mitigation("M-3")``."""
        return self._lookup(identifier, Mitigation, "mitigation")  # type: ignore[no-any-return]

    def assumption(self, identifier: str) -> Assumption:
        """The assumption with this ID, e.g. ``assumption("ASUM-3")``."""
        return self._lookup(identifier, Assumption, "assumption")  # type: ignore[no-any-return]

    def variant_info(self, identifier: str | None = None) -> Variant:
        """The `Variant` record for `identifier` (default: this catalogue's own variant); case does not matter."""
        wanted = identifier or self.variant_id
        for variant in self.variants:
            if variant.id == wanted or variant.id.lower() == wanted.lower():
                return variant
        known = ", ".join(v.id for v in self.variants)
        raise CatalogueError(f"unknown variant {wanted!r}; defined: {known}")

    @property
    def is_base(self) -> bool:
        """Whether this is the catalogue as the document writes it (not derived for a variant)."""
        return self.variant_id == self.variants[0].id

    @property
    def configurations(self) -> tuple[str, ...]:
        """The deployments a row can apply to: every variant except the ``all`` pseudo-variant of a revision."""
        return tuple(v.id for v in self.variants if v.id != ALL_CONFIGURATIONS)

    def configurations_of(self, identifier: str) -> tuple[str, ...]:
        """The deployments in which an entry applies, e.g. ``("GNRC", "JWTS")`` for ``A1-S-1`` of the revision.

        A threat applies where neither it nor its attacker is excluded; a seed mitigation written in italic (O-10)
        only in its own variant; any other entry wherever it is not excluded.
        """
        subjects = [identifier]
        entry = self._by_id.get(identifier)
        if isinstance(entry, Threat):
            subjects.append(entry.attacker)
        if isinstance(entry, Mitigation) and entry.variant is not None:
            return (entry.variant,)
        return tuple(
            v.id
            for v in self.variants
            if v.id != ALL_CONFIGURATIONS and not any(v.excludes(subject) for subject in subjects)
        )

    def threats_of(self, attacker_id: str) -> tuple[Threat, ...]:
        """The threats of one attacker, in seed order."""
        return tuple(t for t in self.threats if t.attacker == attacker_id)

    def analysis_rows(self, attacker_id: str) -> tuple[Threat | NotApplicable, ...]:
        """One attacker's table as the seed lays it out: threats and N/A rows in STRIDE order, seed order within."""
        rows: list[Threat | NotApplicable] = [*self.threats_of(attacker_id)]
        rows += [n for n in self.not_applicable if n.attacker == attacker_id]
        return tuple(sorted(rows, key=lambda row: STRIDE.index(row.stride)))

    def mitigations_of_kind(self, kind: MitigationKind) -> tuple[Mitigation, ...]:
        """The U-, M- or O- entries, in seed order."""
        return tuple(m for m in self.mitigations if m.kind == kind)

    def variant(self, identifier: str) -> Catalogue:
        """The catalogue for deployment `identifier` ("with-idp" or "no-idp"; GNRC, DSPC, DRCT or JWTS).

        A variant drops the threats of its excluded attackers (no-idp: A1, A2, A10; DRCT: A1, A2, A10, A12, A13)
        and its excluded rows, the excluded assets from every asset list (an asset that does not apply in a
        configuration leaves that configuration's rows), the mitigations that do not apply from the rows that name
        them (each with a note), and the excluded entries themselves.
        """
        variant = self.variant_info(identifier)
        if not self.is_base:
            if variant.id == self.variant_id:
                return self
            raise CatalogueError(
                f"catalogue is already the {self.variant_id!r} variant; derive {identifier!r} from the base "
                f"catalogue: load_catalogue().variant({identifier!r})"
            )
        if variant.id == self.variants[0].id:
            return self
        excluded_attackers = set(variant.excluded_ids("A"))
        excluded_threats = set(variant.excluded_ids("T"))
        excluded_mitigations = {e.subject for e in variant.exclusions if _id_family(e.subject) in ("U", "M", "O")}
        threats = tuple(
            _in_variant(t, variant, excluded_mitigations)
            for t in self.threats
            if t.attacker not in excluded_attackers and t.id not in excluded_threats
        )
        return replace(
            self,
            assumptions=tuple(a for a in self.assumptions if not variant.excludes(a.id)),
            assets=tuple(a for a in self.assets if not variant.excludes(a.id)),
            attackers=tuple(a for a in self.attackers if a.id not in excluded_attackers),
            threats=threats,
            not_applicable=tuple(n for n in self.not_applicable if n.attacker not in excluded_attackers),
            mitigations=tuple(m for m in self.mitigations if m.id not in excluded_mitigations),
            variant_id=variant.id,
        )


def _in_variant(threat: Threat, variant: Variant, excluded_mitigations: set[str]) -> Threat:
    """The row as it reads in `variant`: inapplicable assets and mitigations dropped, each drop noted."""
    excluded_assets = set(variant.excluded_ids("AS"))
    dropped_assets = [a for a in threat.assets if a in excluded_assets]
    dropped_mitigations = [m for m in threat.mitigations if m in excluded_mitigations]
    if not dropped_assets and not dropped_mitigations:
        return threat
    notes = list(threat.notes)
    if dropped_assets:
        notes.append(f"{', '.join(dropped_assets)} not applicable in the {variant.title}")
    if dropped_mitigations:
        notes.append(f"{', '.join(dropped_mitigations)} not applicable in the {variant.title}")
    qualifiers = tuple(
        replace(q, mitigations=tuple(m for m in q.mitigations if m not in excluded_mitigations))
        for q in threat.qualifiers
    )
    return replace(
        threat,
        assets=tuple(a for a in threat.assets if a not in excluded_assets),
        mitigations=tuple(m for m in threat.mitigations if m not in excluded_mitigations),
        qualifiers=tuple(q for q in qualifiers if q.mitigations),
        notes=tuple(notes),
    )


def catalogue_from_document(document: Mapping[str, Any]) -> Catalogue:
    """Build a `Catalogue` from the parsed JSON document, after validating it against the schema."""
    validate_catalogue_document(document)
    return Catalogue(
        variant_id=document["variants"][0]["id"] if document["variants"] else BASE_VARIANT,
        assumptions=tuple(Assumption(**a) for a in document["assumptions"]),
        assets=tuple(Asset(**a) for a in document["assets"]),
        attackers=tuple(Attacker(**a) for a in document["attackers"]),
        threats=tuple(
            Threat(
                id=t["id"],
                attacker=t["attacker"],
                stride=t["stride"],
                description=t["description"],
                mitigations=tuple(t["mitigations"]),
                assets=tuple(t["assets"]),
                assets_cell=t.get("assets_cell", ""),
                notes=tuple(t.get("notes", ())),
                qualifiers=tuple(Qualifier(q["label"], tuple(q["mitigations"])) for q in t.get("qualifiers", ())),
            )
            for t in document["threats"]
        ),
        not_applicable=tuple(NotApplicable(**n) for n in document["not_applicable"]),
        mitigations=tuple(Mitigation(**m) for m in document["mitigations"]),
        variants=tuple(
            Variant(
                id=v["id"],
                title=v["title"],
                description=v["description"],
                scope_note=v.get("scope_note", ""),
                contingent_on=tuple(v.get("contingent_on", ())),
                exclusions=tuple(Exclusion(**e) for e in v.get("exclusions", ())),
            )
            for v in document["variants"]
        ),
    )


def catalogue_to_document(catalogue: Catalogue) -> dict[str, Any]:
    """The JSON document for a base catalogue (the inverse of `catalogue_from_document`)."""

    def threat_entry(t: Threat) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": t.id,
            "attacker": t.attacker,
            "stride": t.stride,
            "description": t.description,
            "mitigations": list(t.mitigations),
            "assets": list(t.assets),
            "assets_cell": t.assets_cell,
        }
        if t.notes:
            entry["notes"] = list(t.notes)
        if t.qualifiers:
            entry["qualifiers"] = [{"label": q.label, "mitigations": list(q.mitigations)} for q in t.qualifiers]
        return entry

    def optional_fields(entry: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in entry.items() if value is not None}

    return {
        "schema_version": 1,
        "assumptions": [{"id": a.id, "text": a.text} for a in catalogue.assumptions],
        "assets": [
            optional_fields(
                {
                    "id": a.id,
                    "name": a.name,
                    "description": a.description,
                    "confidentiality": a.confidentiality,
                    "integrity": a.integrity,
                    "availability": a.availability,
                }
            )
            for a in catalogue.assets
        ],
        "attackers": [{"id": a.id, "name": a.name, "description": a.description} for a in catalogue.attackers],
        "threats": [threat_entry(t) for t in catalogue.threats],
        "not_applicable": [
            {"attacker": n.attacker, "stride": n.stride, "text": n.text} for n in catalogue.not_applicable
        ],
        "mitigations": [
            optional_fields(
                {
                    "id": m.id,
                    "kind": m.kind,
                    "justification": m.justification,
                    "details": m.details,
                    "variant": m.variant,
                }
            )
            for m in catalogue.mitigations
        ],
        "variants": [
            {
                "id": v.id,
                "title": v.title,
                "description": v.description,
                "scope_note": v.scope_note,
                "contingent_on": list(v.contingent_on),
                "exclusions": [{"subject": e.subject, "reason": e.reason} for e in v.exclusions],
            }
            for v in catalogue.variants
        ],
    }


def builtin_data_path(model: str = SEED_MODEL) -> Path:
    """The path of a built-in model's catalogue data file shipped with the package ("seed" or "current")."""
    if model not in BUILTIN_MODELS:
        raise CatalogueError(f"unknown model {model!r}; built-in models: {', '.join(BUILTIN_MODELS)}")
    return Path(str(resources.files("dataflow") / "data" / BUILTIN_MODELS[model]))


def load_catalogue(path: str | Path | None = None, model: str | None = None) -> Catalogue:
    """Load and validate a catalogue: a JSON file, a threat-model Markdown file, or a built-in model.

    `path` may be catalogue JSON or a Markdown revision of Parsec's threat model (read by `dataflow.seed_import`);
    without it, `model` names a built-in model ("seed", the default, or "current"). Raises `CatalogueError` when the
    file is missing, unreadable, or breaks the schema or the format; the message names the entry, field or line.
    Loaded once per file version and cached: catalogues are immutable.
    """
    if path is not None and model is not None:
        raise CatalogueError("give a catalogue file or a built-in model, not both")
    resolved = Path(path) if path is not None else builtin_data_path(model or SEED_MODEL)
    return _load_cached(resolved.resolve())


_CACHE: dict[Path, tuple[tuple[int, int], Catalogue]] = {}


def _load_cached(path: Path) -> Catalogue:
    try:
        status = path.stat()
        version = (status.st_mtime_ns, status.st_size)
        cached = _CACHE.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogueError(f"cannot read catalogue {path}: {error.strerror}") from error
    catalogue = parse_catalogue_text(text, str(path))
    _CACHE[path] = (version, catalogue)
    return catalogue


def parse_catalogue_text(text: str, name: str = "catalogue") -> Catalogue:
    """A catalogue from the text of a catalogue JSON document or of a threat-model Markdown document."""
    looks_like_json = name.lower().endswith(".json") or text.lstrip()[:1] in ("{", "[")
    if not looks_like_json:
        from dataflow.seed_import import parse_seed  # the importer needs this module: imported on use

        return parse_seed(text, name)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CatalogueError(
            f"{name}: not valid JSON: line {error.lineno} column {error.colno}: {error.msg}"
        ) from error
    try:
        return catalogue_from_document(document)
    except CatalogueError as error:
        raise CatalogueError(f"{name}: {error}") from error
