"""`PARSEC_SERVICE_ENDPOINT` parsing, as Parsec's clients read it (parsec-facts §1.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from refimpl.client.endpoint import DEFAULT_SOCKET_PATH, Endpoint, EndpointError, endpoint_from_env, parse_endpoint


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("unix:/run/parsec/parsec.sock", "/run/parsec/parsec.sock"),
        ("unix:///run/parsec/parsec.sock", "/run/parsec/parsec.sock"),
        ("UNIX:/tmp/parsec.sock", "/tmp/parsec.sock"),
        ("unix:/tmp/dir with space/p.sock", "/tmp/dir with space/p.sock"),
    ],
)
def test_accepted_forms(uri: str, path: str) -> None:
    assert parse_endpoint(uri) == Endpoint(Path(path))


@pytest.mark.parametrize(
    ("uri", "hint"),
    [
        ("/run/parsec/parsec.sock", "not a unix: URI"),
        ("tcp://localhost:1234", "not a unix: URI"),
        ("unix:relative/parsec.sock", "absolute"),
        ("unix:", "absolute"),
        ("unix:/", "absolute"),
        ("unix://host/run/parsec.sock", "names a host"),
    ],
)
def test_rejected_forms_say_what_to_write(uri: str, hint: str) -> None:
    with pytest.raises(EndpointError, match=hint):
        parse_endpoint(uri)


def test_default_when_unset_or_empty() -> None:
    assert endpoint_from_env({}) == Endpoint(DEFAULT_SOCKET_PATH) == Endpoint(Path("/run/parsec/parsec.sock"))
    assert endpoint_from_env({"PARSEC_SERVICE_ENDPOINT": ""}) == Endpoint(DEFAULT_SOCKET_PATH)


def test_environment_variable_is_read_and_named_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARSEC_SERVICE_ENDPOINT", "unix:/tmp/other.sock")
    assert endpoint_from_env() == Endpoint(Path("/tmp/other.sock"))
    assert str(endpoint_from_env()) == "unix:/tmp/other.sock"
    with pytest.raises(EndpointError, match="PARSEC_SERVICE_ENDPOINT"):
        endpoint_from_env({"PARSEC_SERVICE_ENDPOINT": "http://x"})
