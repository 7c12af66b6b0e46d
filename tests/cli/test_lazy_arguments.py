"""Arguments checked against the service's own tables still are, now that those tables are imported only on use.

`parsec-tm client -p N` takes only Parsec's provider IDs (`refimpl.ids.ProviderId`) and `parsec-tm idp serve
--log-level` only Parsec's log levels (`refimpl.logs.LOG_LEVELS`); the check runs when the argument is parsed, so
building the parser imports neither table.
"""

from __future__ import annotations

import pytest

from parsec_tm.cli import build_parser


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_an_unknown_provider_id_is_a_usage_error_naming_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(capsys, "client", "-p", "9", "ping")
    assert "9 is not a provider ID" in error and "1 (MBED_CRYPTO)" in error and "3 (TPM)" in error


def test_a_known_provider_id_is_accepted() -> None:
    args = build_parser().parse_args(["client", "-p", "0x2", "ping"])
    assert args.provider == 2


def test_an_unknown_log_level_is_a_usage_error_naming_parsecs(capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(capsys, "idp", "serve", "--socket", "s", "--trust-domain", "td", "--log-level", "verbose")
    assert "'verbose' is not one of debug, error, info, off, trace, warn" in error


def test_the_log_level_defaults_to_info_and_takes_parsecs_names() -> None:
    base = ["idp", "serve", "--socket", "s", "--trust-domain", "td"]
    assert build_parser().parse_args(base).log_level == "info"
    assert build_parser().parse_args([*base, "--log-level", "trace"]).log_level == "trace"
