"""The committed protobuf modules are exactly what `scripts/gen_protos.py` makes from the `.proto` contracts."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

from refimpl.ids import Opcode
from refimpl.wire.codec import CODECS

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "refimpl" / "wire" / "protobuf"
GENERATED_DIR = REPO / "refimpl" / "wire" / "generated"
SHARED_CONTRACTS = {"psa_algorithm", "psa_key_attributes"}
BOOK_ONLY = {"psa_mac_compute", "psa_mac_verify"}  # opcodes 0x16/0x17: not in Parsec's Opcode enum


def test_regenerating_gives_the_committed_files(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_protos.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    fresh = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    committed = {path.name: path.read_bytes() for path in GENERATED_DIR.iterdir() if path.suffix in {".py", ".pyi"}}
    assert sorted(fresh) == sorted(committed)
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"refimpl/wire/generated is stale, run scripts/gen_protos.py: {stale}"


def test_one_contract_per_operation_with_the_file_stem_as_package() -> None:
    stems = {path.stem for path in PROTO_DIR.glob("*.proto")}
    operations = {stem for stem in stems if stem not in SHARED_CONTRACTS}
    assert len(stems) == 33
    # Every opcode has its contract (names: psa_* for PSA operations, snake case of the opcode otherwise).
    for opcode in Opcode:
        assert opcode.name.lower() in operations, opcode
    assert operations == {opcode.name.lower() for opcode in Opcode} | BOOK_ONLY
    for path in PROTO_DIR.glob("*.proto"):
        assert re.search(rf"^package {path.stem};$", path.read_text(), re.MULTILINE), path.name


def test_generated_modules_import_as_a_package() -> None:
    for path in PROTO_DIR.glob("*.proto"):
        module = importlib.import_module(f"refimpl.wire.generated.{path.stem}_pb2")
        if path.stem not in SHARED_CONTRACTS:
            assert {"Operation", "Result"} <= set(module.DESCRIPTOR.message_types_by_name), path.name


def test_the_codec_uses_each_opcodes_own_contract() -> None:
    for opcode, body_codec in CODECS.items():
        assert body_codec.operation_message.DESCRIPTOR.full_name == f"{opcode.name.lower()}.Operation"
        assert body_codec.result_message.DESCRIPTOR.full_name == f"{opcode.name.lower()}.Result"
