"""A crash between the two steps of creating or destroying a key orphans nothing (Parsec's KIM-backed life cycle).

Creating a key writes the key (provider) and then the mapping (key info manager); destroying removes the mapping
and then the key. A child process builds the real pipeline (software provider, SQLite or OnDisk store) and is
killed with SIGKILL exactly between the two steps: the fault is injected by replacing the second step with a
`kill -9` of the process itself. The next start-up sweep must leave no key without a mapping and no mapping
without a key, and the key name must be usable again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from refimpl.config import parse_config
from refimpl.ids import Opcode, Status
from refimpl.operations import GenerateKey, ListKeys, SignHash
from refimpl.providers.software.key_store import KeyStore
from refimpl.psa import types as t
from refimpl.service import build_pipeline
from refimpl.wire.codec import decode_result
from tests.refimpl.pipeline import ask, config_document
from tests.refimpl.test_backend import P256

REPO_ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, os, signal, sys
from pathlib import Path
from refimpl.config import parse_config
from refimpl.operations import DestroyKey, GenerateKey
from refimpl.service import build_pipeline
from tests.refimpl.pipeline import ask
from tests.refimpl.test_backend import P256

document = json.loads(sys.argv[1])
step = sys.argv[2]
pipeline = build_pipeline(parse_config(document), allow_activation=False)
provider, manager = pipeline.providers[0], pipeline.key_info_managers[0]

def crash(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if step == "before-mapping":
    manager.insert = crash  # the key is written, the mapping never is
    ask(pipeline, GenerateKey("k", P256), "tenant")
else:
    assert ask(pipeline, GenerateKey("k", P256), "tenant").status == 0
    provider.destroy_key_material = crash  # the mapping is removed, the key never is
    ask(pipeline, DestroyKey("k"), "tenant")
"""


def document_for(tmp_path: Path, manager_type: str) -> dict[str, object]:
    document = config_document(tmp_path)
    if manager_type == "OnDisk":
        document["key_manager"] = [{"name": "kim", "manager_type": "OnDisk", "store_path": str(tmp_path / "map")}]
    return document


@pytest.mark.threat("A6-D-1")
@pytest.mark.parametrize("manager_type", ["SQLite", "OnDisk"])
@pytest.mark.parametrize("step", ["before-mapping", "before-key-destroyed"])
def test_kill_between_steps_orphans_nothing(tmp_path: Path, manager_type: str, step: str) -> None:
    document = document_for(tmp_path, manager_type)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(document), step],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(KeyStore(tmp_path / "keys").key_ids()) == 1, "the crash should leave one key with no mapping"

    pipeline = build_pipeline(parse_config(document), allow_activation=False)  # start-up sweep
    try:
        assert KeyStore(tmp_path / "keys").key_ids() == []
        assert decode_result(Opcode.LIST_KEYS, ask(pipeline, ListKeys(), "tenant").body).keys == ()
        assert ask(pipeline, GenerateKey("k", P256), "tenant").status is Status.SUCCESS  # the name is free again
        sign = SignHash("k", t.Ecdsa(t.Hash.SHA_256), b"\1" * 32)
        assert ask(pipeline, sign, "tenant").status is Status.SUCCESS
    finally:
        pipeline.stop()


@pytest.mark.parametrize("manager_type", ["SQLite", "OnDisk"])
def test_a_mapping_whose_key_is_gone_is_dropped_at_start(tmp_path: Path, manager_type: str) -> None:
    document = document_for(tmp_path, manager_type)
    pipeline = build_pipeline(parse_config(document), allow_activation=False)
    assert ask(pipeline, GenerateKey("k", P256), "tenant").status is Status.SUCCESS
    pipeline.stop()
    store = KeyStore(tmp_path / "keys")
    [key_id] = store.key_ids()
    store.delete(key_id)  # the key vanished behind the service's back
    pipeline = build_pipeline(parse_config(document), allow_activation=False)
    try:
        assert pipeline.key_info_managers[0].keys("mbed-crypto-provider") == []
        assert ask(pipeline, GenerateKey("k", P256), "tenant").status is Status.SUCCESS
    finally:
        pipeline.stop()
