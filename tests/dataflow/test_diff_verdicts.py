"""`parsec-tm diff seed current --verdicts`: the command proves both built-in models and reports the proofs and
verdicts that changed, paired across the two revisions' deployments; and the verdicts side by side.

Proving both models takes tens of seconds of CPU: the module proves them once (the `verdicts` fixture, through the
command itself) and every test reads that one run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dataflow.catalogue import Catalogue
from dataflow.diff import diff_catalogues, render_markdown, render_text
from parsec_tm.cli import diff as diff_cli
from parsec_tm.verdict_diff import MISSING, side_by_side


def run(argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="parsec-tm")
    diff_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["diff", *argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = args.handler(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def verdicts() -> dict[str, Any]:
    """The JSON of ``parsec-tm diff seed current --verdicts``: the one prover run of this module."""
    code, out, err = run(["seed", "current", "--verdicts", "--format", "json"])
    assert (code, err) == (0, "")
    document: dict[str, Any] = json.loads(out)
    return document


def by_deployment(records: list[dict[str, Any]], kind: str) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for record in records:
        if record["kind"] == kind:
            found.setdefault(record["deployment"], {})[record["name"]] = record["status"]
    return found


def test_the_seed_deployments_are_compared_with_the_configurations_they_became(verdicts: dict[str, Any]) -> None:
    proofs = verdicts["proofs"]
    assert proofs["deployments"] == [{"before": "with-idp", "after": "GNRC"}, {"before": "no-idp", "after": "DRCT"}]
    for change in proofs["changed"]:
        before, after = change["before"], change["after"]
        assert (before["deployment"], after["deployment"]) in {("with-idp", "GNRC"), ("no-idp", "DRCT")}
        assert change["fields"] and all(field in ("status", "threats") for field in change["fields"])
        assert before["status"] != after["status"] or "rows" in change
    assert proofs["compared"] > 2 * 7, "every invariant and most verdicts of both seed deployments have a counterpart"


def test_a_mitigation_that_became_an_unmitigation_has_no_verdict_left(verdicts: dict[str, Any]) -> None:
    proofs = verdicts["proofs"]
    assert proofs["renamed"] == {"M-4": "U-7"}
    assert by_deployment(proofs["removed"], "verdict") == {"with-idp": {"M-4": "outside-model"},
                                                         "no-idp": {"M-4": "outside-model"}}  # fmt: skip
    assert by_deployment(proofs["removed"], "invariant") == {}


def test_the_new_configurations_and_mitigations_are_new_proofs_and_verdicts(
    verdicts: dict[str, Any], catalogue: Catalogue, current: Catalogue
) -> None:
    proofs = verdicts["proofs"]
    added_mitigations = diff_catalogues(catalogue, current).sections["mitigations"].added
    new_in_current = {m["id"] for m in added_mitigations if m["kind"] in ("M", "O")}
    assert len(new_in_current) >= 8
    invariants = by_deployment(proofs["added"], "invariant")
    assert set(invariants) == {"DSPC", "JWTS"}, "GNRC's and DRCT's invariants are the seed deployments', compared"
    assert invariants["DSPC"].keys() == invariants["JWTS"].keys()
    assert invariants["DSPC"]["tenant-isolation"] == "failed", "another user's account or a reused UID"
    added = by_deployment(proofs["added"], "verdict")
    assert set(added["GNRC"]) == set(added["DRCT"]) == new_in_current
    assert added["JWTS"]["M-9"] == "counterexample"
    (m9,) = [r for r in proofs["added"] if r["id"] == "verdict M-9 (JWTS)"]
    assert "A12-I-1" in m9["threats"], "without M-9, the SPIFFE validation request leaks (A12)"


def test_the_text_and_markdown_forms_show_the_verdicts(
    verdicts: dict[str, Any], catalogue: Catalogue, current: Catalogue
) -> None:
    diff = replace(diff_catalogues(catalogue, current, "seed", "current"), proofs=verdicts["proofs"])
    proofs = verdicts["proofs"]
    text = render_text(diff)
    summary = f"{proofs['compared']} compared (with-idp → GNRC, no-idp → DRCT), {len(proofs['changed'])} changed"
    assert f"\nProofs and verdicts: {summary}, " in text
    assert "  - with-idp verdicts: outside-model: M-4 (now U-7)\n" in text
    assert "  + DSPC invariants: " in text and "  + JWTS verdicts: " in text
    markdown = render_markdown(diff)
    assert f"### Proofs and verdicts\n\n{summary}, " in markdown
    assert "| no-idp | verdicts | outside-model | M-4 (now U-7) |" in markdown
    failed = ", ".join(name for name, status in by_deployment(proofs["added"], "invariant")["DSPC"].items()
                       if status == "failed")  # fmt: skip
    assert f"| DSPC | invariants | failed | {failed} |" in markdown


def test_verdicts_are_for_built_in_models_only(seed_markdown: Path) -> None:
    code, out, err = run([str(seed_markdown), "current", "--verdicts"])
    assert (code, out) == (2, "")
    assert "--verdicts proves the built-in models (seed, current)" in err and "--proofs" in err
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        run(["seed", "current", "--verdicts", "--proofs", "a.json", "b.json"])


def test_side_by_side_puts_each_deployment_in_a_column() -> None:
    seed = {"invariants": [{"id": "tenant-isolation", "variant": "with-idp", "status": "proved"}],
            "mutations": [{"mitigation": "O-2", "variant": "with-idp", "status": "counterexample"},
                          {"mitigation": "M-4", "variant": "with-idp", "status": "outside-model"}]}  # fmt: skip
    current = {"invariants": [{"id": "tenant-isolation", "variant": "DSPC", "status": "failed"}],
               "mutations": [{"mitigation": "M-10", "variant": "DSPC", "status": "outside-model"},
                             {"mitigation": "O-2", "variant": "DSPC", "status": "no-effect"}]}  # fmt: skip
    header, rows = side_by_side({"seed": seed, "current": current})
    assert header == ["Kind", "Entry", "seed with-idp", "current DSPC"]
    assert rows == [
        ["invariant", "tenant-isolation", "proved", "failed"],
        ["verdict", "M-4", "outside-model", MISSING],
        ["verdict", "M-10", MISSING, "outside-model"],
        ["verdict", "O-2", "counterexample", "no-effect"],
    ]
