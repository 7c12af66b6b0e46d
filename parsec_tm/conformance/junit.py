"""JUnit XML for CI systems: one test case per conformance campaign, a failure carrying the shrunk trace.

The format CI servers read (Jenkins, GitLab, GitHub Actions reporters): a `<testsuite>` of `<testcase>` elements,
each with its duration; a failed campaign's case has a `<failure>` whose message is the divergence and whose text
is the minimal trace and the path of the runnable pytest file that replays it. Coverage, declared deviations and
the seed go into `<properties>` and `<system-out>`, so the CI page shows what each campaign exercised.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CaseReport:
    """One campaign as a test case (what a worker process sends back: plain data, no exceptions)."""

    name: str
    seconds: float
    steps: int
    seed: int | None
    failure: str | None = None
    """The divergence's message, None when the campaign passed."""
    trace: str = ""
    replay_file: str | None = None
    coverage_score: float | None = None
    deviations: int = 0
    output: str = ""


def write_junit(path: Path, cases: list[CaseReport], *, suite: str = "parsec-tm fuzz") -> Path:
    """Write the JUnit XML file for `cases` at `path` (parents created)."""
    failures = sum(1 for case in cases if case.failure is not None)
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{sum(case.seconds for case in cases):.3f}",
    )
    for case in cases:
        element = ET.SubElement(root, "testcase", classname=suite, name=case.name, time=f"{case.seconds:.3f}")
        properties = ET.SubElement(element, "properties")
        values = {
            "steps": case.steps,
            "seed": case.seed,
            "coverage": case.coverage_score,
            "declared_deviations": case.deviations,
            "replay_file": case.replay_file,
        }
        for name, value in values.items():
            if value is not None:
                ET.SubElement(properties, "property", name=name, value=str(value))
        if case.failure is not None:
            failure = ET.SubElement(element, "failure", message=case.failure, type="divergence")
            replay = f"\nreplay: pytest {case.replay_file}" if case.replay_file else "\nno replay file was written"
            failure.text = case.trace + replay
        if case.output:
            ET.SubElement(element, "system-out").text = case.output
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
