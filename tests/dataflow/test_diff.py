"""`parsec-tm diff`: entries paired by ID and by content, the seed → current history, and the three output forms."""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dataflow.catalogue import Catalogue, catalogue_from_document, catalogue_to_document
from dataflow.diff import CatalogueDiff, diff_catalogues, render_markdown, render_text, with_proofs
from parsec_tm.cli import diff as diff_cli
from tests.dataflow.catalogue_helpers import Document, mitigation_entry, threat_entry

SECTIONS = ["threats", "mitigations", "assumptions", "assets", "attackers", "configurations"]


@pytest.fixture(scope="module")
def history(catalogue: Catalogue, current: Catalogue) -> CatalogueDiff:
    return diff_catalogues(catalogue, current, "seed", "current")


def edited(catalogue: Catalogue, edit: Callable[[Document], None]) -> Catalogue:
    document = copy.deepcopy(catalogue_to_document(catalogue))
    edit(document)
    return catalogue_from_document(document)


def ids(records: Any) -> list[str]:
    return [record["id"] for record in records]


def test_a_catalogue_does_not_differ_from_itself(current: Catalogue) -> None:
    diff = diff_catalogues(current, current)
    assert diff.empty
    assert "No changes." in render_text(diff)


def test_a_reworded_row_is_one_change(catalogue: Catalogue) -> None:
    def reword(document: Document) -> None:
        threat_entry(document, "A9-I-1")["description"] = (
            "The configuration file, read by an adversary, opens new attack avenues."
        )

    diff = diff_catalogues(catalogue, edited(catalogue, reword))
    threats = diff.sections["threats"]
    assert (threats.added, threats.removed) == ((), ())
    assert [(c.id, c.fields) for c in threats.changed] == [("A9-I-1", ("description",))]


def test_an_inserted_row_is_one_addition_and_the_later_rows_only_move(catalogue: Catalogue) -> None:
    new_row = {
        "id": "A4-D-1", "attacker": "A4", "stride": "D", "mitigations": ["O-8"], "assets": ["AS6"],
        "assets_cell": "AS6", "description": "An attacker unplugs the hardware module while a key is in use.",
    }  # fmt: skip

    def insert(document: Document) -> None:
        rows = document["threats"]
        position = next(i for i, row in enumerate(rows) if row["id"] == "A4-D-1")
        for row in rows:
            if row["attacker"] == "A4" and row["stride"] == "D":
                row["id"] = f"A4-D-{int(row['id'].rsplit('-', 1)[1]) + 1}"
        rows.insert(position, new_row)

    diff = diff_catalogues(catalogue, edited(catalogue, insert))
    threats = diff.sections["threats"]
    assert (ids(threats.added), ids(threats.removed), threats.changed) == (["A4-D-1"], [], ())
    assert threats.renumbered == (("A4-D-1", "A4-D-2"), ("A4-D-2", "A4-D-3"), ("A4-D-3", "A4-D-4"))
    assert "Threats: 1 added, 0 removed, 0 changed, 3 renumbered" in render_text(diff)
    assert "**Renumbered** (words unchanged): A4-D-1 → A4-D-2, A4-D-2 → A4-D-3" in render_markdown(diff)


def test_an_id_reused_for_other_words_is_a_removal_and_an_addition(catalogue: Catalogue) -> None:
    def reuse(document: Document) -> None:
        entry = mitigation_entry(document, "U-5")
        entry["justification"] = "Parsec cannot know how strong a client's Unix password is."
        entry["details"] = "All the client's keys can be used, and exported if allowed by the key's policy."

    diff = diff_catalogues(catalogue, edited(catalogue, reuse)).sections["mitigations"]
    assert (ids(diff.added), ids(diff.removed), diff.changed) == (["U-5"], ["U-5"], ())


def test_the_history_adds_the_new_rows_and_removes_none(history: CatalogueDiff) -> None:
    threats = history.sections["threats"]
    assert ids(threats.added) == [
        "A1-S-3", "A1-S-4", "A1-S-5", "A12-I-1", "A12-D-1", "A12-D-2",
        "A13-S-1", "A13-T-1", "A13-D-1", "A13-D-2", "A13-E-1",
    ]  # fmt: skip
    assert threats.removed == ()
    assert [r["configurations"] for r in threats.added[:2]] == [["DSPC"], ["DSPC"]]
    assert ids(history.sections["attackers"].added) == ["A12", "A13"]


def test_the_history_names_what_changed_in_each_row(history: CatalogueDiff) -> None:
    changed = {c.id: c for c in history.sections["threats"].changed}
    assert changed["A1-R-1"].fields == ("mitigations",)
    assert (changed["A1-R-1"].before["mitigations"], changed["A1-R-1"].after["mitigations"]) == (["M-4"], ["U-7"])
    assert changed["A9-S-1"].fields == ("description", "assets")
    assert changed["A11-I-1"].after["mitigations"] == ["M-8"]
    assert "A1-T-1" not in changed, "a row that applies where it applied before has not changed"


def test_the_history_pairs_a_mitigation_that_became_an_unmitigation(history: CatalogueDiff) -> None:
    mitigations = history.sections["mitigations"]
    changed = {c.id: c for c in mitigations.changed}
    assert changed["U-7"].before["id"] == "M-4"
    assert changed["U-7"].fields[:2] == ("id", "kind")
    assert changed["M-2"].fields == ("details", "configurations")
    assert ids(mitigations.removed) == ["U-5"]
    assert {"U-5", "M-8", "M-9", "M-10", "O-15"} <= set(ids(mitigations.added))


def test_the_history_maps_the_seed_deployments_to_configurations(history: CatalogueDiff) -> None:
    configurations = history.sections["configurations"]
    assert [(c.before["id"], c.id) for c in configurations.changed] == [("with-idp", "GNRC"), ("no-idp", "DRCT")]
    assert ids(configurations.added) == ["DSPC", "JWTS"]
    assert [r["threats"] for r in configurations.added] == [68, 77]


def test_the_json_document_has_the_documented_shape(history: CatalogueDiff) -> None:
    document = json.loads(json.dumps(history.to_document()))
    assert list(document) == SECTIONS
    assert all(list(section) == ["added", "removed", "changed", "renumbered"] for section in document.values())
    change = document["threats"]["changed"][0]
    assert list(change) == ["id", "before", "after", "fields"]
    assert list(change["after"]) == [
        "id", "attacker", "attacker_name", "stride", "description", "mitigations", "assets", "notes", "configurations",
    ]  # fmt: skip


def test_the_text_form_reads_as_a_list_of_changes(history: CatalogueDiff) -> None:
    text = render_text(history)
    assert text.startswith("Threat model changes: seed → current\n")
    assert "Threats: 11 added, 0 removed, 28 changed" in text
    assert "  + A12-I-1 [JWTS] An attacker steals the authentication token" in text
    assert "  ~ A1-R-1: mitigations: −M-4 +U-7" in text
    reworded = "might be modified, leading to the service being {+unsecure,+} ineffective or broken."
    assert f"  ~ A9-T-1: description: The configuration file set up by the administrator {reworded}\n" in text


def test_the_markdown_form_is_a_pull_request_comment(history: CatalogueDiff) -> None:
    markdown = render_markdown(history)
    assert markdown.startswith("## Threat model changes: `seed` → `current`\n")
    assert "| Threats | 11 | 0 | 28 |" in markdown
    assert "| A1-R-1 | mitigations: −~~M-4~~ +**U-7** |" in markdown
    assert "| A12-I-1 | JWTS | An attacker steals" in markdown
    assert "[-" not in markdown


def proof_document(invariants: list[tuple[str, str, str]], verdicts: list[tuple[str, str, str, list[str]]]) -> Document:
    """A ``parsec-tm prove --format json`` document reduced to what the diff reads."""
    return {
        "invariants": [{"id": i, "variant": v, "status": s} for i, v, s in invariants],
        "mutations": [{"mitigation": m, "variant": v, "status": s, "threats": t} for m, v, s, t in verdicts],
    }


def test_proofs_and_verdicts_pair_as_the_deployments_and_mitigations_do(history: CatalogueDiff) -> None:
    old = proof_document(
        [("tenant-isolation", "with-idp", "proved")],
        [("M-3", "with-idp", "counterexample", ["A1-T-1"]), ("M-4", "with-idp", "outside-model", []),
         ("O-7", "no-idp", "no-effect", [])],
    )  # fmt: skip
    new = proof_document(
        [("tenant-isolation", "GNRC", "failed")],
        [("M-3", "GNRC", "counterexample", ["A1-T-1"]), ("O-7", "DRCT", "counterexample", ["A10-S-1"]),
         ("M-9", "JWTS", "counterexample", ["A12-I-1"])],
    )  # fmt: skip
    proofs = with_proofs(history, old, new).proofs
    assert proofs is not None
    assert [(c["id"], c["before"]["id"], c["fields"]) for c in proofs["changed"]] == [
        ("invariant tenant-isolation (GNRC)", "invariant tenant-isolation (with-idp)", ["status"]),
        ("verdict O-7 (DRCT)", "verdict O-7 (no-idp)", ["status", "threats"]),
    ]
    assert (ids(proofs["added"]), ids(proofs["removed"])) == (["verdict M-9 (JWTS)"], ["verdict M-4 (with-idp)"])
    assert proofs["compared"] == 3
    assert proofs["deployments"] == [{"before": "with-idp", "after": "GNRC"}, {"before": "no-idp", "after": "DRCT"}]
    assert proofs["renamed"]["M-4"] == "U-7"

    diff = with_proofs(history, old, new)
    text = render_text(diff)
    assert "Proofs and verdicts: 3 compared (with-idp → GNRC, no-idp → DRCT), 2 changed, 1 new, 1 gone\n" in text
    assert "  ~ invariant tenant-isolation (with-idp → GNRC): status: proved → failed\n" in text
    assert "  ~ verdict O-7 (no-idp → DRCT): status: no-effect → counterexample; rows realised: +A10-S-1\n" in text
    assert "  + JWTS verdicts: counterexample: M-9\n" in text
    assert "  - with-idp verdicts: outside-model: M-4 (now U-7)\n" in text
    markdown = render_markdown(diff)
    assert (
        "| verdict O-7 (no-idp → DRCT) | status: no-effect → counterexample<br>rows realised: +**A10-S-1** |"
        in markdown
    )
    assert "| with-idp | verdicts | outside-model | M-4 (now U-7) |" in markdown
    assert diff.to_document()["proofs"] == proofs


def test_a_renumbered_row_does_not_change_a_verdict(catalogue: Catalogue) -> None:
    new_row = {
        "id": "A4-D-1", "attacker": "A4", "stride": "D", "mitigations": ["O-8"], "assets": ["AS6"],
        "assets_cell": "AS6", "description": "An attacker unplugs the hardware module mid-operation.",
    }  # fmt: skip

    def insert(document: Document) -> None:
        for row in document["threats"]:
            if row["attacker"] == "A4" and row["stride"] == "D":
                row["id"] = f"A4-D-{int(row['id'].rsplit('-', 1)[1]) + 1}"
        document["threats"].append(new_row)

    def o8(rows: list[str]) -> Document:
        return proof_document([], [("O-8", "with-idp", "counterexample", rows)])

    diff = diff_catalogues(catalogue, edited(catalogue, insert))
    same = with_proofs(diff, o8(["A4-D-1", "A4-S-1"]), o8(["A4-D-2", "A4-S-1"]))
    assert same.proofs is not None and (same.proofs["changed"], same.proofs["compared"]) == ([], 1)
    assert "  no proof or verdict changed in the paired deployments\n" in render_text(same)
    moved = with_proofs(diff, o8(["A4-D-1", "A4-S-1"]), o8(["A4-D-1", "A4-S-1"]))
    assert moved.proofs is not None
    assert moved.proofs["changed"][0]["fields"] == ["threats"], "the old A4-D-1 is the new A4-D-2, not A4-D-1"
    assert "  ~ verdict O-8 (with-idp): rows realised: −A4-D-2 +A4-D-1\n" in render_text(moved)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="parsec-tm")
    diff_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["diff", *argv])
    code = args.handler(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_compares_markdown_revisions_and_built_in_models(
    seed_markdown: Path, current_markdown: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, from_files, _ = run([str(seed_markdown), str(current_markdown), "--format", "json"], capsys)
    assert code == 0
    code, from_models, _ = run(["seed", "current", "--format", "json"], capsys)
    assert code == 0
    assert json.loads(from_files) == json.loads(from_models)
    assert ids(json.loads(from_models)["attackers"]["added"]) == ["A12", "A13"]


def test_the_exit_code_says_whether_the_revisions_differ(
    seed_markdown: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["seed", str(seed_markdown), "--exit-code"], capsys)[0] == 0
    assert run(["seed", "current", "--exit-code", "--format", "markdown"], capsys)[0] == 1


def test_an_unreadable_revision_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.md"
    broken.write_text("# A threat model\n\n## Assumptions\n", encoding="utf-8")
    code, out, err = run(["seed", str(broken)], capsys)
    assert (code, out) == (2, "")
    assert "no '## Assets' section" in err


def test_a_row_marked_for_fewer_configurations_changes_its_configurations(current_markdown: Path) -> None:
    from dataflow.seed_import import parse_seed

    text = current_markdown.read_text(encoding="utf-8")
    old_marker = "| S | *(GNRC, JWTS)* An attacker uses brute-force"
    assert old_marker in text
    revised = parse_seed(text.replace(old_marker, "| S | *(JWTS)* An attacker uses brute-force"))
    diff = diff_catalogues(parse_seed(text), revised)
    (change,) = diff.sections["threats"].changed
    assert (change.id, change.fields) == ("A1-S-2", ("configurations",))
    assert (change.before["configurations"], change.after["configurations"]) == (["GNRC", "JWTS"], ["JWTS"])
    assert "  ~ A1-S-2: configurations: GNRC, JWTS → JWTS" in render_text(diff)
    assert [c.id for c in diff.sections["configurations"].changed] == ["GNRC"], "GNRC lost a row"
