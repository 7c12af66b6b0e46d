"""Fixtures for the client tests: a replay server on a real Unix socket, found through PARSEC_SERVICE_ENDPOINT."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.replay import ReplayServer, replay_server


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    with replay_server() as running:
        monkeypatch.setenv("PARSEC_SERVICE_ENDPOINT", running.endpoint)
        yield running
