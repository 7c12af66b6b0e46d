"""Fixtures: an identity provider on a real Unix socket, and a JwtSvid authenticator following it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from refimpl.authenticators.jwt_svid import JwtSvidAuthenticator
from refimpl.identity_provider.server import WorkloadApiServer
from tests.identity_provider.parts import WAIT, running_idp, short_tempdir


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    with short_tempdir() as path:
        yield path


@pytest.fixture
def idp(socket_dir: Path) -> Iterator[WorkloadApiServer]:
    with running_idp(socket_dir / "agent.sock") as server:
        yield server


@pytest.fixture
def authenticator(idp: WorkloadApiServer) -> Iterator[JwtSvidAuthenticator]:
    """A JwtSvid authenticator that has received the identity provider's bundle."""
    authenticator = JwtSvidAuthenticator(idp.endpoint)
    try:
        if not authenticator.watcher.wait_for(lambda bundles: bundles is not None, WAIT):
            pytest.fail(f"the authenticator got no JWT bundle from {idp.endpoint} within {WAIT} s")
        yield authenticator
    finally:
        authenticator.close()
