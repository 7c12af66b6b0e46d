"""Tests that act as other Unix users work wherever the checkout lives, a directory only root can enter included.

`tests.fixtures.other_users.for_other_users` gives other uids a readable copy of what they run; this test builds
the situation it exists for (a 0700 directory holding a script) and runs the script as another uid both ways.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from tests.e2e.helpers import SYSTEM_PYTHON
from tests.fixtures.other_users import for_other_users, reachable_by_everyone

STRANGER_UID = 42431


def _run_as_stranger(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", f"--reuid={STRANGER_UID}", f"--regid={STRANGER_UID}", "--clear-groups", SYSTEM_PYTHON, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )


def test_another_user_runs_a_script_from_a_private_directory_through_its_shared_copy(tmp_path: Path) -> None:
    private = tmp_path / "private-checkout"
    (private / "pkg").mkdir(parents=True)
    private.chmod(0o700)
    script = private / "pkg" / "hello.py"
    script.write_text("import os\nprint('hello from', os.getuid())\n")

    assert not reachable_by_everyone(script)
    denied = _run_as_stranger(script)
    assert denied.returncode != 0 and "Permission denied" in denied.stderr

    shared = for_other_users(private / "pkg") / "hello.py"
    assert reachable_by_everyone(shared) and shared != script
    allowed = _run_as_stranger(shared)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip() == f"hello from {STRANGER_UID}"


def test_what_everyone_can_read_already_is_used_in_place() -> None:
    with tempfile.TemporaryDirectory() as directory:  # /tmp is world-searchable; pytest's tmp_path is not
        Path(directory).chmod(0o755)
        script = Path(directory) / "open.py"
        script.write_text("print('open')\n")
        script.chmod(0o644)
        assert reachable_by_everyone(script)
        assert for_other_users(script) == script.resolve()
