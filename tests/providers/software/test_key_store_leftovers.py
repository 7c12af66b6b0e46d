"""A crash in the middle of a key store write leaves no key material behind once the store is opened again.

`refimpl/providers/software/key_store.py` writes a key to a temporary file, fsyncs it and renames it. A kill -9
before the rename left the temporary file — a private key no mapping names, outside the start-up sweep's view —
for ever; the crash-consistency campaign found ten of them after forty kills. Opening the store now removes the
temporary files of writers that are gone, and only those: a writer still running (another worker process
sharing the store, another thread of this one) keeps its file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from refimpl.providers.software.key_store import KeyStore

REPO_ROOT = Path(__file__).resolve().parents[3]

CRASHING_WRITER = """
import os, signal, sys
from pathlib import Path
from refimpl.providers.software import key_store
from refimpl.providers.software.key_store import KeyStore, StoredKey
from tests.providers.helpers import P256, template
from refimpl.psa.types import Ecdsa, Hash

store = KeyStore(Path(sys.argv[1]))
key_id = store.allocate_key_id()
rename = os.replace
def crash_before_the_key_rename(source, target):  # dies between the key's fsync and its rename
    if str(target).endswith(".key"):
        os.kill(os.getpid(), signal.SIGKILL)
    rename(source, target)
key_store.os.replace = crash_before_the_key_rename
store.write(key_id, StoredKey(template(P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True), b"\\x42" * 32))
"""


def temporaries(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(".tmp"))


@pytest.mark.threat("A6-D-1")
def test_a_writer_killed_before_its_rename_leaves_no_key_material_after_the_store_is_opened(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    KeyStore(directory)
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(directory)], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    left = [name for name in temporaries(directory) if name.startswith(".00000001.key.")]
    assert left, temporaries(directory)  # the crash did leave the key's temporary file
    assert (directory / left[0]).read_bytes().endswith(b"\x42" * 32)

    store = KeyStore(directory)
    assert temporaries(directory) == []
    assert store.key_ids() == []


def test_only_the_temporaries_of_writers_that_are_gone_are_removed(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    KeyStore(directory)
    dead_process = int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
        ).stdout
    )
    finished = threading.Thread(target=lambda: None)
    finished.start()
    finished.join()
    dead_thread = finished.ident
    assert dead_thread is not None and dead_thread != threading.get_ident()
    planted = {
        f".00000007.key.{dead_process}.1.tmp": False,  # its process is gone
        f".00000008.key.{os.getpid()}.{dead_thread}.tmp": False,  # this process, a finished thread
        f".00000009.key.{os.getpid()}.{threading.get_ident()}.tmp": True,  # this thread, writing
        f".0000000a.key.{os.getppid()}.1.tmp": True,  # a live process (another worker, say)
        ".notes.tmp": True,  # not a name the store writes
    }
    for name in planted:
        (directory / name).write_bytes(b"secret")

    KeyStore(directory)
    assert temporaries(directory) == sorted(name for name, kept in planted.items() if kept)


def test_the_temporary_of_a_killed_writer_not_yet_reaped_is_removed(tmp_path: Path) -> None:
    """A worker of a killed `--processes N` service dies by SIGKILL and stays a zombie until its new parent reaps
    it; its pid still exists, but it writes nothing more, so its temporary file is stale."""
    directory = tmp_path / "keys"
    KeyStore(directory)
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        zombie.send_signal(signal.SIGKILL)
        while Path(f"/proc/{zombie.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            threading.Event().wait(0.01)  # dead, not reaped: /proc still lists it
        (directory / f".0000000b.key.{zombie.pid}.1.tmp").write_bytes(b"secret")
        KeyStore(directory)
        assert temporaries(directory) == []
    finally:
        zombie.wait()
