"""The formal model's proofs and verdicts for two built-in threat models, compared and side by side.

`dataflow.diff.with_proofs` compares two ``parsec-tm prove --format json`` documents but cannot produce them:
`dataflow` imports none of the model. This module is the bridge: it runs the prover (`properties.prove.report_data`)
for each side of ``parsec-tm diff seed current --verdicts``, and lays the verdicts of several deployments side by
side, per mitigation (notebook 03). Proving the current revision's four configurations takes seconds of CPU, so
callers that need less can judge only some kinds of mitigation (``kinds=("M",)``: the M- mitigations).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dataflow.diff import CatalogueDiff, with_proofs

MISSING = "–"
"""The cell of an entry that a deployment does not have (a mitigation of another revision, or one not judged)."""


def prove_model(model: str, kinds: Iterable[str] | None = None) -> dict[str, Any]:
    """``parsec-tm prove --model MODEL --format json`` as data: every invariant proved in every deployment of the
    built-in `model`, and a verdict for each of its mitigations whose kind (``M``, ``O``) is in `kinds` (all if
    None).

    Raises ValueError for an unknown model and `properties.prove.ModelIncomplete` when the model cannot be proved.
    """
    from properties.mutations import mitigation_ids
    from properties.prove import MODELS, report_data

    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    selected = None
    if kinds is not None:
        wanted = tuple(kinds)
        known = dict.fromkeys(m for deployment in MODELS[model] for m in mitigation_ids(deployment))
        selected = [m for m in known if m.split("-")[0] in wanted]
    return report_data(model=model, mitigation_filter=selected, mutations=selected is None or bool(selected))


def verdict_diff(
    diff: CatalogueDiff, old_model: str, new_model: str, kinds: Iterable[str] | None = None
) -> tuple[CatalogueDiff, dict[str, dict[str, Any]]]:
    """`diff` (of the two built-in models' catalogues) with the proofs and verdicts that changed, and the two prove
    reports it compared (by model name), so that a caller can also show them side by side."""
    reports = {old_model: prove_model(old_model, kinds)}
    if new_model not in reports:
        reports[new_model] = prove_model(new_model, kinds)
    return with_proofs(diff, reports[old_model], reports[new_model]), reports


def side_by_side(reports: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """A table of outcomes: one column per (model, deployment), e.g. ``seed with-idp``, ``current GNRC``; one row
    per invariant (its proof status) and per mitigation (its verdict), mitigations in the catalogue's order (U, M,
    O, then by number). A cell is `MISSING` where a deployment has no such entry.
    """
    columns: list[tuple[str, str]] = []
    cells: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
    for model, report in reports.items():
        entries = [("invariant", r["id"], r["variant"], r["status"]) for r in report.get("invariants", ())]
        entries += [("verdict", m["mitigation"], m["variant"], m["status"]) for m in report.get("mutations", ())]
        for kind, name, deployment, status in entries:
            column = (model, deployment)
            if column not in cells:
                columns.append(column)
                cells[column] = {}
            cells[column][(kind, name)] = status
    invariants = dict.fromkeys(key for column in columns for key in cells[column] if key[0] == "invariant")
    verdicts = sorted(
        {key for column in columns for key in cells[column] if key[0] == "verdict"},
        key=lambda key: _mitigation_order(key[1]),
    )
    header = ["Kind", "Entry", *(f"{model} {deployment}" for model, deployment in columns)]
    rows = [
        [kind, name, *(cells[c].get((kind, name), MISSING) for c in columns)] for kind, name in [*invariants, *verdicts]
    ]
    return header, rows


def _mitigation_order(identifier: str) -> tuple[int, int, str]:
    prefix, _, number = identifier.partition("-")
    kind = "UMO".index(prefix) if prefix in ("U", "M", "O") else 3
    return (kind, int(number) if number.isdigit() else 0, identifier)
