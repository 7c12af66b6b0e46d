"""What `parsec-tm` does when it starts: which packages building its parser imports, and what it writes on stderr.

The command line must start at once, so building the parser (every command group's `register`) imports only the
standard library and light modules; the heavy packages (the Z3 solver, Hypothesis, networkx, py-spiffe and gRPC,
cryptography, matplotlib, the reference service) are imported by the handlers that use them. This checks import
behaviour, not time: the times are measured by `bench/bench_startup.py`. A command that succeeds writes nothing on
stderr — no deprecation warning from a package it did not need.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from parsec_tm.cli import COMMAND_MODULES

HEAVY_PACKAGES = (
    "z3",
    "hypothesis",
    "networkx",
    "spiffe",
    "grpc",
    "cryptography",
    "matplotlib",
    "jinja2",
    "refimpl",
    "properties",
)
"""Top-level packages that no command group may import to build the parser."""

IMPORTED_HEAVY = """
import argparse, importlib, json, sys
target = sys.argv[1]
if target == "parser":
    from parsec_tm.cli import build_parser
    build_parser()
else:
    parser = argparse.ArgumentParser(prog="parsec-tm")
    importlib.import_module(f"parsec_tm.cli.{target}").register(parser.add_subparsers(dest="command"))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[2:]))))
"""


def imported_heavy_packages(target: str, cwd: Path) -> list[str]:
    """The heavy packages in `sys.modules` of a fresh interpreter after `target` (a command module or the parser)."""
    finished = subprocess.run(
        [sys.executable, "-c", IMPORTED_HEAVY, target, *HEAVY_PACKAGES],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    modules: list[str] = json.loads(finished.stdout)
    return modules


def parsec_tm(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`parsec-tm ARGUMENTS` as a whole process, from a directory that is not the checkout."""
    return subprocess.run(
        [sys.executable, "-m", "parsec_tm", *arguments], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_registering_a_command_group_imports_no_heavy_package(module: str, tmp_path: Path) -> None:
    assert imported_heavy_packages(module, tmp_path) == []


def test_building_the_whole_parser_imports_no_heavy_package(tmp_path: Path) -> None:
    assert imported_heavy_packages("parser", tmp_path) == []


def test_the_probe_sees_a_heavy_import_when_there_is_one(tmp_path: Path) -> None:
    """The probe above is not blind: the same code run on a module that imports the service does report it."""
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            IMPORTED_HEAVY.replace("build_parser()", "build_parser(); import refimpl.service"),
            "parser",
            *HEAVY_PACKAGES,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "refimpl" in json.loads(finished.stdout)


def test_version_prints_the_version_and_nothing_on_stderr(tmp_path: Path) -> None:
    from parsec_tm import __version__

    finished = parsec_tm("--version", cwd=tmp_path)
    assert (finished.returncode, finished.stdout.strip(), finished.stderr) == (0, f"parsec-tm {__version__}", "")


def test_help_lists_every_command_group_and_writes_nothing_on_stderr(tmp_path: Path) -> None:
    finished = parsec_tm("--help", cwd=tmp_path)
    assert (finished.returncode, finished.stderr) == (0, "")
    for command in ("check", "threats", "report", "prove", "serve", "client", "fuzz", "idp"):
        assert f"    {command} " in finished.stdout or f"    {command}\n" in finished.stdout, command


def test_threats_lists_the_threats_and_writes_nothing_on_stderr(tmp_path: Path) -> None:
    finished = parsec_tm("threats", cwd=tmp_path)
    assert (finished.returncode, finished.stderr) == (0, "")
    assert "A1-S-1" in finished.stdout
    assert finished.stdout.rstrip().endswith("threat(s) in variant with-idp")
