"""The evidence report as text, JSON, Markdown (a pull-request comment) and SARIF 2.1.0 (code-scanning dashboards)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from dataflow.catalogue import Catalogue
from parsec_tm.evidence.gather import FAILING_OUTCOMES, EvidenceReport, ThreatEvidence

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/parallaxsecond/parsec"
_KIND_WORDS = (
    ("proof", "proof", "proofs"),
    ("counterexample", "counterexample", "counterexamples"),
    ("test", "test", "tests"),
    ("property", "fuzz property", "fuzz properties"),
)
_GOOD = frozenset({"passed", "proved", "found"})


def _counts(threat: ThreatEvidence) -> str:
    """A compact account of a row's evidence: "2 proofs, 3 counterexamples, 5 tests (1 failed), 1 property"."""
    parts = []
    for kind, one, many in _KIND_WORDS:
        items = [e for e in threat.evidence if e.kind == kind]
        if not items:
            continue
        outcomes = Counter(e.outcome for e in items)
        bad = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()) if o not in _GOOD)
        parts.append(f"{len(items)} {one if len(items) == 1 else many}" + (f" ({bad})" if bad else ""))
    documented = [e.ref for e in threat.evidence if e.kind in ("operational", "unmitigated")]
    if documented:
        parts.append("document: " + ", ".join(documented))
    return "; ".join(parts) or "nothing"


def render_text(report: EvidenceReport) -> str:
    """One line per row (ID, status, evidence counts), then the failures, the goal and the summary."""
    lines = [f"{t.id:<9} {t.status:<12} {_counts(t)}" for t in report.threats]
    for threat in report.failing:
        for e in threat.evidence:
            if e.outcome in FAILING_OUTCOMES:
                lines.append(f"FAILING {threat.id}: {e.kind} {e.ref}: {e.outcome}")
    summary = report.summary()
    counts = ", ".join(f"{n} {s}" for s, n in summary["statuses"].items() if n)
    lines.append(f"{summary['threats']} threat(s) in variant {report.variant}: {counts}")
    lines.append(
        f"rows with an M- mitigation backed by passing executable evidence: "
        f"{summary['with_m_mitigation_backed']}/{summary['with_m_mitigation']}"
    )
    for miss in report.goal_misses:
        lines.append(f"goal missed by {miss.id} ({miss.status})" + (f": {miss.reason}" if miss.reason else ""))
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def render_json(report: EvidenceReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: EvidenceReport) -> str:
    """A table of rows and statuses, the rows that miss the goal, and the failing evidence: fit for a PR comment."""
    summary = report.summary()
    counts = ", ".join(f"{n} {s}" for s, n in summary["statuses"].items() if n)
    out = [
        f"## Threat-model evidence ({report.variant})",
        "",
        f"{summary['threats']} threat rows: {counts}. Rows with an M- mitigation backed by passing executable "
        f"evidence: **{summary['with_m_mitigation_backed']}/{summary['with_m_mitigation']}**.",
        "",
    ]
    failing = [(t, e) for t in report.failing for e in t.evidence if e.outcome in FAILING_OUTCOMES]
    if failing:
        out += ["### Failing evidence", "", "| Threat | Kind | Evidence | Outcome |", "|---|---|---|---|"]
        out += [f"| {t.id} | {e.kind} | `{_cell(e.ref)}` | **{e.outcome}** |" for t, e in failing]
        out.append("")
    if report.goal_misses:
        out += ["### Rows that miss the goal", "", "| Threat | Status | Reason |", "|---|---|---|"]
        out += [f"| {t.id} | {t.status} | {_cell(t.reason) or '—'} |" for t in report.goal_misses]
        out.append("")
    out += ["### Every row", "", "| Threat | Mitigations | Status | Evidence |", "|---|---|---|---|"]
    out += [f"| {t.id} | {', '.join(t.mitigations)} | {t.status} | {_cell(_counts(t))} |" for t in report.threats]
    out += ["", *[f"_Note: {_cell(note)}_" for note in report.notes]]
    return "\n".join(out).rstrip() + "\n"


def render_sarif(
    report: EvidenceReport, catalogue: Catalogue, document: Path | None, version: str, lines: dict[str, int]
) -> str:
    """SARIF 2.1.0: one rule per threat row, one result per row that is failing (error) or has no evidence
    (warning), located at the row's line in the threat-model document."""
    rules = [
        {
            "id": t.id,
            "name": t.id.replace("-", ""),
            "shortDescription": {"text": f"{t.id}: {t.stride} threat of {t.attacker}"},
            "fullDescription": {"text": t.description.strip() or f"{t.stride} threat of {t.attacker}"},
            "help": {"text": _help(t.id, t.mitigations)},
            "properties": {"mitigations": list(t.mitigations)},
        }
        for t in catalogue.threats
    ]
    index = {t.id: i for i, t in enumerate(catalogue.threats)}
    artifact, base_ids = _artifact(document)
    results = []
    for threat in report.threats:
        if threat.status not in ("failing", "no-evidence"):
            continue
        if threat.status == "failing":
            bad = [f"{e.kind} {e.ref} {e.outcome}" for e in threat.evidence if e.outcome in FAILING_OUTCOMES]
            message = f"{threat.id}: evidence failing: {'; '.join(bad)}"
        else:
            message = f"{threat.id}: no evidence shows its mitigations ({', '.join(threat.mitigations)}) work"
            if threat.reason:
                message += f"; {threat.reason}"
        location = {"artifactLocation": artifact, "region": {"startLine": lines.get(threat.id, 1)}}
        results.append(
            {
                "ruleId": threat.id,
                "ruleIndex": index[threat.id],
                "level": "error" if threat.status == "failing" else "warning",
                "message": {"text": message},
                "locations": [{"physicalLocation": location}],
                "partialFingerprints": {"parsecThreatRow/v1": f"{report.variant}:{threat.id}"},
            }
        )
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "parsec-tm",
                        "version": version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                **({"originalUriBaseIds": base_ids} if base_ids else {}),
                "results": results,
                "properties": {"variant": report.variant},
            }
        ],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"


def _help(threat: str, mitigations: Sequence[str]) -> str:
    """The rule's help (code scanning requires one): what the alert means and how to see the evidence."""
    return (
        f"The threat-model row {threat} is mitigated by {', '.join(mitigations) or 'nothing'}. This alert is raised "
        f"when some evidence of it fails, or when no proof, counterexample, test or fuzz property backs it; run "
        f'`parsec-tm evidence` for the evidence of every row, and mark tests with @pytest.mark.threat("{threat}").'
    )


def _artifact(document: Path | None) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The document's artifactLocation, always a relative URI (code scanning rejects absolute file URIs outside the
    checkout): relative to the working directory when it lies under it, else its name under the base ID
    THREATMODELDIR, whose absolute location goes in run.originalUriBaseIds."""
    if document is None:
        return {"uri": "parsec_threat_model.md"}, {}
    resolved = document.resolve()
    try:
        return {"uri": quote(resolved.relative_to(Path.cwd().resolve()).as_posix())}, {}
    except ValueError:
        base = {"THREATMODELDIR": {"uri": resolved.parent.as_uri() + "/"}}
        return {"uri": quote(resolved.name), "uriBaseId": "THREATMODELDIR"}, base
