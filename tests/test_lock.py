"""The lock file agrees with pyproject.toml, and the suite runs in the environment it locks.

pyproject.toml keeps version ranges for people who install parsec-tm into their own environment; scripts/setup.sh
installs the exact versions and hashes of requirements.lock (refreshed by scripts/lock.sh). If someone widens or
narrows a range, adds a dependency or an extra without refreshing the lock, or installs a different version into
.venv by hand, these tests name the package and what to run.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
REFRESH = "run `bash scripts/lock.sh` and commit requirements.lock"


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    marker: Marker | None
    hashes: int

    def applies(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def _pins(text: str | None = None) -> list[Pin]:
    text = LOCK.read_text() if text is None else text
    pins: list[Pin] = []
    # An entry is "name==version [; marker] \" followed by "--hash=…" continuation lines.
    for match in re.finditer(
        r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\\n]+?))?\s*\\\n((?:\s+--hash=\S+(?:\s*\\)?\n?)+)", text, re.M
    ):
        name, version, marker, hash_lines = match.groups()
        pins.append(
            Pin(
                canonicalize_name(name),
                Version(version),
                Marker(marker) if marker else None,
                hash_lines.count("--hash="),
            )
        )
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(text) for text in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        declared.extend(Requirement(text) for text in extra)
    return declared


def test_the_lock_is_made_by_the_documented_command_and_every_pin_carries_hashes() -> None:
    text = LOCK.read_text()
    assert "bash scripts/lock.sh" in text.splitlines()[1], "the lock's header must name its refresh command"
    pins = _pins()
    entries = re.findall(r"^[A-Za-z0-9_.\-]+==", text, re.M)
    assert len(pins) == len(entries) > 50, "every entry of the lock is parsed"
    assert all(pin.hashes > 0 for pin in pins)


def test_every_declared_dependency_is_locked_at_a_version_its_range_allows() -> None:
    pins = [pin for pin in _pins() if pin.applies()]
    by_name = {pin.name: pin for pin in pins}
    problems = []
    for requirement in _declared():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pin = by_name.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} is declared in pyproject.toml but not in requirements.lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(
                f"{requirement.name}: locked {pin.version} is outside pyproject.toml's '{requirement.specifier}'"
            )
    assert not problems, "\n".join(problems) + f"\n{REFRESH}"


def test_the_environment_holds_the_locked_versions() -> None:
    mismatched = []
    for pin in _pins():
        if not pin.applies():
            continue
        try:
            installed = Version(metadata.version(pin.name))
        except metadata.PackageNotFoundError:
            mismatched.append(f"{pin.name}: locked {pin.version}, not installed")
            continue
        if installed != pin.version:
            mismatched.append(f"{pin.name}: locked {pin.version}, installed {installed}")
    assert not mismatched, "\n".join(mismatched) + "\nrun `bash scripts/setup.sh` to install the lock into .venv"


def test_the_lock_reader_reads_plain_and_marked_entries() -> None:
    digest = "--hash=sha256:" + "0" * 64
    text = f"foo==1.0 \\\n    {digest}\nbar-baz==2.1 ; sys_platform == 'win32' \\\n    {digest} \\\n    {digest}\n"
    assert _pins(text) == [
        Pin("foo", Version("1.0"), None, 1),
        Pin("bar-baz", Version("2.1"), Marker("sys_platform == 'win32'"), 2),
    ]
