"""The SQLite and OnDisk key info managers: Parsec's formats, durability, permissions, isolation, crash safety."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from refimpl.errors import ParsecError
from refimpl.identity import ApplicationIdentity
from refimpl.ids import AuthType, Status
from refimpl.key_info_managers.on_disk import OnDiskKeyInfoManager
from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager
from refimpl.psa.bincode import decode_attributes, encode_key_info
from tests.refimpl.kim_helpers import ATTRIBUTES, PROVIDERS, TENANT_A, TENANT_B, key, mapping, open_kim

KINDS = ["SQLite", "OnDisk"]


@pytest.mark.parametrize("kind", KINDS)
def test_mappings_survive_a_restart(tmp_path: Path, kind: str) -> None:
    kim = open_kim(kind, tmp_path)
    kim.insert(key(TENANT_A, "signing"), mapping(b"\x07\x00\x00\x00"))
    kim.insert(key(TENANT_A, "gone"), mapping(b"\x08\x00\x00\x00"))
    assert kim.remove(key(TENANT_A, "gone")) == mapping(b"\x08\x00\x00\x00")
    kim.close()
    reopened = open_kim(kind, tmp_path)
    assert reopened.get(key(TENANT_A, "signing")) == mapping(b"\x07\x00\x00\x00")
    assert reopened.get(key(TENANT_A, "gone")) is None
    assert [k.key_name for k, _ in reopened.keys("mbed-crypto-provider")] == ["signing"]
    assert reopened.remove(key(TENANT_A, "gone")) is None


@pytest.mark.threat("A1-S-1")
@pytest.mark.parametrize("kind", KINDS)
def test_same_key_name_is_separate_per_tenant(tmp_path: Path, kind: str) -> None:
    kim = open_kim(kind, tmp_path)
    kim.insert(key(TENANT_A, "k"), mapping(b"\x01\x00\x00\x00"))
    assert kim.get(key(TENANT_B, "k")) is None
    kim.insert(key(TENANT_B, "k"), mapping(b"\x02\x00\x00\x00"))
    assert kim.get(key(TENANT_A, "k")) == mapping(b"\x01\x00\x00\x00")
    assert kim.remove(key(TENANT_B, "k")) == mapping(b"\x02\x00\x00\x00")
    assert kim.get(key(TENANT_A, "k")) == mapping(b"\x01\x00\x00\x00")
    assert [k.key_name for k, _ in kim.keys_of(TENANT_A, "mbed-crypto-provider")] == ["k"]


@pytest.mark.threat("A7-I-1", "A6-T-1", "M-6")
@pytest.mark.parametrize("kind", KINDS)
def test_store_is_private_to_the_service(tmp_path: Path, kind: str) -> None:
    kim = open_kim(kind, tmp_path / "deep")
    kim.insert(key(TENANT_A, "k"), mapping())
    store = tmp_path / "deep" / ("mappings" if kind == "OnDisk" else "")  # the directory the manager created
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    for path in store.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


@pytest.mark.threat("A6-R-1", "A7-R-1", "M-4")
@pytest.mark.parametrize("kind", KINDS)
def test_mapping_events_name_the_application(tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="refimpl")
    kim = open_kim(kind, tmp_path)
    kim.insert(key(TENANT_A, "k"), mapping())
    kim.close()
    open_kim(kind, tmp_path)
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith('new mapping created: app="tenant-a" auth=Direct key=k') for m in messages), messages
    read = 'mapping is read from the persistent store: app="tenant-a" auth=Direct key=k'
    assert any(m.startswith(read) for m in messages), messages


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_writers_lose_nothing(tmp_path: Path, kind: str) -> None:
    kim = open_kim(kind, tmp_path)
    names = [[f"t{thread}-k{index}" for index in range(15)] for thread in range(4)]

    def write(batch: list[str]) -> None:
        for name in batch:
            kim.insert(key(TENANT_A, name), mapping())

    threads = [threading.Thread(target=write, args=(batch,)) for batch in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kim.close()
    stored = {k.key_name for k, _ in open_kim(kind, tmp_path).keys("mbed-crypto-provider")}
    assert stored == {name for batch in names for name in batch}


WRITER = """
import sys
from pathlib import Path
from tests.refimpl.kim_helpers import TENANT_A, key, mapping, open_kim
kim = open_kim(sys.argv[1], Path(sys.argv[2]))
for index in range(100000):
    kim.insert(key(TENANT_A, f"k{index}"), mapping(index.to_bytes(4, "little")))
    print(index, flush=True)
"""


@pytest.mark.parametrize("kind", KINDS)
def test_kill_9_while_writing_loses_no_acknowledged_mapping(tmp_path: Path, kind: str) -> None:
    """A writer is killed mid-stream; every insert that returned is on disk and the store still opens."""
    repo = Path(__file__).resolve().parents[2]
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, kind, str(tmp_path)], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    acknowledged = [int(writer.stdout.readline()) for _ in range(40)]
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    kim = open_kim(kind, tmp_path)
    stored = {k.key_name: m.key_id for k, m in kim.keys("mbed-crypto-provider")}
    for index in acknowledged:
        assert stored[f"k{index}"] == index.to_bytes(4, "little")
    assert all(m.attributes == ATTRIBUTES for _, m in kim.keys("mbed-crypto-provider"))


# ------------------------------------------------------------------------------------------------- SQLite


def columns(db: Path) -> list[tuple[str, str, int, int]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("PRAGMA table_info(key_mapping)").fetchall()
    return [(name, kind, notnull, pk) for _, name, kind, notnull, _, pk in rows]


def test_sqlite_schema_is_parsecs(tmp_path: Path) -> None:
    db = tmp_path / "kim.sqlite3"
    kim = SQLiteKeyInfoManager("kim", db)
    kim.insert(key(TENANT_A, "k"), mapping(b"\x2a\x00\x00\x00"))
    assert columns(db) == [
        ("authenticator_id", "INTEGER", 1, 1),
        ("application_name", "TEXT", 1, 2),
        ("key_name", "TEXT", 1, 3),
        ("provider_uuid", "TEXT", 1, 0),
        ("provider_name", "TEXT", 1, 0),
        ("key_id", "BLOB", 1, 0),
        ("key_id_version", "INTEGER", 1, 0),
        ("key_attributes", "BLOB", 1, 0),
        ("key_attributes_version", "INTEGER", 1, 0),
    ]
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT id, int_value FROM kim_metadata").fetchall() == [("schema_version", 1)]
        row = connection.execute("SELECT * FROM key_mapping").fetchone()
    assert row[:7] == (
        int(AuthType.DIRECT),
        "tenant-a",
        "k",
        PROVIDERS["mbed-crypto-provider"].uuid,
        "mbed-crypto-provider",
        b"\x2a\x00\x00\x00",
        1,
    )
    assert decode_attributes(row[7]) == ATTRIBUTES and row[8] == 1


def test_sqlite_reads_rows_written_by_another_program(tmp_path: Path) -> None:
    """A row inserted with plain SQL, as Parsec writes it, is served after a restart."""
    db = tmp_path / "kim.sqlite3"
    SQLiteKeyInfoManager("kim", db).close()
    attributes = encode_key_info(b"", ATTRIBUTES)[8:]  # bincode(Attributes): KeyInfo minus the empty id's prefix
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO key_mapping VALUES (3, '1000', 'old-key', ?, 'mbed-crypto-provider', ?, 1, ?, 1)",
            (PROVIDERS["mbed-crypto-provider"].uuid, b"\x05\x00\x00\x00", attributes),
        )
    kim = SQLiteKeyInfoManager("kim", db)
    uid_1000 = ApplicationIdentity.of("1000", AuthType.UNIX_PEER_CREDENTIALS)
    assert kim.get(key(uid_1000, "old-key")) == mapping(b"\x05\x00\x00\x00")
    direct_1000 = ApplicationIdentity.of("1000", AuthType.DIRECT)
    assert kim.get(key(direct_1000, "old-key")) is None  # same name, other authenticator: another tenant


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UPDATE kim_metadata SET int_value = 2", "schema_version 2"),
        ("CREATE TABLE extra (x)", "exactly kim_metadata and key_mapping"),
        ("UPDATE key_mapping SET key_id_version = 2", "key_id_version 2"),
        ("UPDATE key_mapping SET key_attributes = x'00'", "unreadable key attributes"),
    ],
)
def test_sqlite_refuses_a_database_it_does_not_understand(tmp_path: Path, sql: str, message: str) -> None:
    db = tmp_path / "kim.sqlite3"
    kim = SQLiteKeyInfoManager("kim", db)
    kim.insert(key(TENANT_A, "k"), mapping())
    kim.close()
    with sqlite3.connect(db) as connection:
        connection.execute(sql)
    with pytest.raises(ValueError, match=message):
        SQLiteKeyInfoManager("kim", db)


def test_sqlite_never_lets_a_provider_take_over_anothers_key(tmp_path: Path) -> None:
    """Parsec's key identity ignores the provider; a second provider must not overwrite the first one's mapping."""
    kim = SQLiteKeyInfoManager("kim", tmp_path / "kim.sqlite3")
    kim.insert(key(TENANT_A, "k", "mbed-crypto-provider"), mapping(b"\x01\x00\x00\x00"))
    assert kim.get(key(TENANT_A, "k", "pkcs11-provider")) is None
    with pytest.raises(ParsecError) as caught:
        kim.insert(key(TENANT_A, "k", "pkcs11-provider"), mapping(b"\x09\x00\x00\x00"))
    assert caught.value.status is Status.PSA_ERROR_ALREADY_EXISTS
    assert kim.remove(key(TENANT_A, "k", "pkcs11-provider")) is None
    assert kim.get(key(TENANT_A, "k", "mbed-crypto-provider")) == mapping(b"\x01\x00\x00\x00")


# ------------------------------------------------------------------------------------------------- OnDisk


def test_on_disk_layout_is_parsecs(tmp_path: Path) -> None:
    kim = OnDiskKeyInfoManager("kim", tmp_path, PROVIDERS, int(AuthType.DIRECT))
    kim.insert(key(TENANT_A, "my key/ü"), mapping(b"\x2a\x00\x00\x00"))
    # base64url with padding of "tenant-a" and of "my key/ü"; provider ID 1 in decimal.
    path = tmp_path / "dGVuYW50LWE=" / "1" / "bXkga2V5L8O8"
    assert path.read_bytes() == encode_key_info(b"\x2a\x00\x00\x00", ATTRIBUTES)
    assert sorted(p.name for p in path.parent.iterdir()) == ["bXkga2V5L8O8"]  # no temporary file left


def test_on_disk_identities_carry_the_configured_authenticator(tmp_path: Path) -> None:
    """Parsec's OnDisk layout has no authenticator: mappings belong to whichever one is configured."""
    OnDiskKeyInfoManager("kim", tmp_path, PROVIDERS, int(AuthType.DIRECT)).insert(key(TENANT_A, "k"), mapping())
    reopened = OnDiskKeyInfoManager("kim", tmp_path, PROVIDERS, int(AuthType.UNIX_PEER_CREDENTIALS))
    [(identity, _)] = reopened.keys("mbed-crypto-provider")
    assert identity.application.authenticator_id == AuthType.UNIX_PEER_CREDENTIALS


def test_on_disk_separates_providers(tmp_path: Path) -> None:
    kim = OnDiskKeyInfoManager("kim", tmp_path, PROVIDERS, int(AuthType.DIRECT))
    kim.insert(key(TENANT_A, "k", "mbed-crypto-provider"), mapping(b"\x01\x00\x00\x00"))
    kim.insert(key(TENANT_A, "k", "pkcs11-provider"), mapping(b"\x02\x00\x00\x00"))
    assert kim.get(key(TENANT_A, "k", "pkcs11-provider")) == mapping(b"\x02\x00\x00\x00")
    assert [m.key_id for _, m in kim.keys("mbed-crypto-provider")] == [b"\x01\x00\x00\x00"]


def test_on_disk_cleans_interrupted_writes_and_skips_damaged_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kim = OnDiskKeyInfoManager("kim", tmp_path, PROVIDERS, int(AuthType.DIRECT))
    kim.insert(key(TENANT_A, "good"), mapping())
    provider_dir = tmp_path / "dGVuYW50LWE=" / "1"
    (provider_dir / ".tmp-interrupted").write_bytes(b"half a mapp")
    (provider_dir / "YmFk").write_bytes(b"\x00garbage")  # "bad"
    (tmp_path / "not base64!").mkdir()
    caplog.set_level(logging.WARNING, logger="refimpl")
    reopened = OnDiskKeyInfoManager("kim", tmp_path, PROVIDERS, int(AuthType.DIRECT))
    assert [k.key_name for k, _ in reopened.keys("mbed-crypto-provider")] == ["good"]
    assert not (provider_dir / ".tmp-interrupted").exists()
    assert any("YmFk" in record.getMessage() for record in caplog.records if record.levelno == logging.ERROR)
    assert os.path.exists(provider_dir / "YmFk")  # damaged files are left for the administrator


def test_sqlite_shared_mode_sees_other_processes_changes(tmp_path: Path) -> None:
    """Two managers on one file (as two worker processes): each sees the other's writes and deletes."""
    first = SQLiteKeyInfoManager("kim", tmp_path / "kim.sqlite3", shared=True)
    second = SQLiteKeyInfoManager("kim", tmp_path / "kim.sqlite3", shared=True)
    first.insert(key(TENANT_A, "k"), mapping(b"\x01\x00\x00\x00"))
    assert second.get(key(TENANT_A, "k")) == mapping(b"\x01\x00\x00\x00")
    assert [k.key_name for k, _ in second.keys("mbed-crypto-provider")] == ["k"]
    with pytest.raises(ParsecError) as caught:  # the name check is made against the file, not the copy
        second.insert(key(TENANT_A, "k"), mapping(b"\x02\x00\x00\x00"))
    assert caught.value.status is Status.PSA_ERROR_ALREADY_EXISTS
    assert second.remove(key(TENANT_A, "k")) == mapping(b"\x01\x00\x00\x00")
    assert first.get(key(TENANT_A, "k")) is None
    assert first.remove(key(TENANT_A, "k")) is None


@pytest.mark.parametrize("kind", KINDS)
def test_an_existing_mapping_is_never_replaced(tmp_path: Path, kind: str) -> None:
    """Two creators racing for one name: the second insert is refused, so the first key is not orphaned."""
    kim = open_kim(kind, tmp_path)
    kim.insert(key(TENANT_A, "k"), mapping(b"\x01\x00\x00\x00"))
    with pytest.raises(ParsecError) as caught:
        kim.insert(key(TENANT_A, "k"), mapping(b"\x02\x00\x00\x00"))
    assert caught.value.status is Status.PSA_ERROR_ALREADY_EXISTS
    assert kim.get(key(TENANT_A, "k")) == mapping(b"\x01\x00\x00\x00")
