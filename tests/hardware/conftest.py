"""Fixtures of the hardware-provider tests: a real SQLite key info manager, providers on it, and log capture.

The providers come from `tests/fixtures/real_parts.py` (a private SoftHSM2 token, a private swtpm); each test gets
its own key info manager file, so keys of one test are invisible to the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager

KeyInfoManagerOpener = Callable[[], KeyInfoManager]


@pytest.fixture
def open_kim(tmp_path: Path) -> Iterator[KeyInfoManagerOpener]:
    """Opens this test's SQLite key info manager (again, to model a restart); closes every one opened."""
    opened: list[KeyInfoManager] = []

    def open_() -> KeyInfoManager:
        manager = SQLiteKeyInfoManager("sqlite-manager", tmp_path / "kim" / "mappings.sqlite3")
        opened.append(manager)
        return manager

    yield open_
    for manager in opened:
        manager.close()


@pytest.fixture
def kim(open_kim: KeyInfoManagerOpener) -> KeyInfoManager:
    return open_kim()


class Records(logging.Handler):
    """Every record emitted anywhere while installed, rendered the way a log file would show it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(record) for record in self.records)


@pytest.fixture
def all_logs() -> Iterator[Records]:
    """Captures every logger at DEBUG (the root logger and the service's own, which may not propagate)."""
    handler = Records()
    service = logging.getLogger("refimpl")
    loggers = [logging.getLogger()] + ([] if service.propagate else [service])
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)
