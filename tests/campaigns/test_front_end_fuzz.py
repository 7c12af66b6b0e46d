"""A bounded slice of the front-end fuzzing campaign (`bench/campaign_fuzz_front_end.py` runs a million inputs).

The seed's threats A1-D-2 and A1-E-1 with mitigations M-0 and M-5: no input crashes the front end, every reply is
a well-formed Parsec response echoing its request. The slice must also reach deep (successful requests, most
opcodes, many statuses), or a fuzzer that only produced bad magic numbers would pass. The planted faults show the
oracle is not blind: an exception escaping the front end, a provider's unexpected exception, and replies with a
wrong echo or a broken header are each reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from refimpl.ids import AuthType, Opcode, Status
from refimpl.operations import Ping
from refimpl.wire.framing import bytes_reader, read_request
from refimpl.wire.header import HEADER, RequestHeader, Response, ResponseHeader, encode_response
from tests.campaigns.front_end_fuzzer import FrontEndFuzzer, check_reply, fuzzer, request_bytes

SLICE_INPUTS = 20_000


@pytest.fixture
def campaign(wire_vectors: Path) -> Iterator[FrontEndFuzzer]:
    with fuzzer(seed=20_000, vectors=wire_vectors) as running:
        yield running


@pytest.fixture
def planted(wire_vectors: Path) -> Iterator[FrontEndFuzzer]:
    """A campaign for the planted faults, without the Workload API (they do not need it)."""
    with fuzzer(seed=1, vectors=wire_vectors, jwt_svid=False) as running:
        yield running


@pytest.mark.threat("A1-D-2", "A1-E-1", "M-5")
def test_twenty_thousand_inputs_no_crash_and_every_reply_well_formed(campaign: FrontEndFuzzer) -> None:
    report = campaign.run(SLICE_INPUTS)
    assert report.inputs == SLICE_INPUTS
    assert report.findings == [], "\n\n".join(str(finding) for finding in report.findings[:5])
    assert report.successes > SLICE_INPUTS // 100, report.summary()
    assert len(report.opcodes_answered) >= 20, report.summary()
    assert min(report.successes_by_auth[name] for name in ("DIRECT", "UNIX_PEER_CREDENTIALS", "JWT_SVID")) > 0
    statuses = set(report.statuses)
    assert {"Success", "InvalidHeader", "DeserializingBodyFailed", "AuthenticationError"} <= statuses, statuses


def test_an_exception_escaping_the_front_end_is_reported(
    planted: FrontEndFuzzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = planted

    def broken(*args: object) -> None:
        raise KeyError("planted")

    monkeypatch.setattr(campaign.pipeline.front_end, "_authenticate", broken)
    report = campaign.run(300)
    assert report.uncaught, report.summary()
    assert "KeyError: 'planted'" in report.uncaught[0].detail


def test_an_unexpected_exception_inside_a_provider_is_reported(
    planted: FrontEndFuzzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = planted
    """The front end answers it PsaErrorGenericError, a well-formed reply; the campaign still counts it."""

    def broken(*args: object) -> None:
        raise ValueError("planted")

    monkeypatch.setattr(campaign.pipeline.providers[0], "execute", broken)
    report = campaign.run(2000)
    assert report.internal_errors, report.summary()
    assert report.uncaught == report.malformed == []
    assert "ValueError: planted" in report.internal_errors[0].detail


def _reply(**changes: int) -> bytes:
    header = {"provider": 0, "session": 3, "content_type": 0, "opcode": int(Opcode.PING), "status": 0}
    header.update(changes)
    return encode_response(Response(ResponseHeader(**header), b"\x08\x01"))


def test_the_oracle_accepts_a_correct_echo_and_rejects_a_wrong_one() -> None:
    request = request_bytes(Ping(), AuthType.NO_AUTH, b"", session=3)
    assert check_reply(request, _reply()) == (None, True)
    assert "echoes" in str(check_reply(request, _reply(session=4))[0])
    assert "echoes" in str(check_reply(request, _reply(opcode=int(Opcode.LIST_KEYS)))[0])
    assert "not a Parsec status" in str(check_reply(request, _reply(status=999))[0])


def test_the_oracle_rejects_a_broken_header_and_a_wrong_pre_trust_reply() -> None:
    request = request_bytes(Ping(), AuthType.NO_AUTH, b"", session=3)
    bad_magic = b"\x00" + _reply()[1:]
    assert "does not parse" in str(check_reply(request, bad_magic)[0])
    fields = list(HEADER.unpack_from(_reply()))
    fields[3] = 1  # version 1.1
    assert check_reply(request, HEADER.pack(*fields) + _reply()[HEADER.size :])[0] is not None
    truncated_request = request[:10]
    echoing = encode_response(Response.for_request(_header_of(request), Status.CONNECTION_ERROR))
    assert "before its header was trusted" in str(check_reply(truncated_request, echoing)[0])
    assert check_reply(truncated_request, encode_response(Response.from_status(Status.CONNECTION_ERROR))) == (
        None,
        False,
    )


def _header_of(request: bytes) -> RequestHeader:
    return read_request(bytes_reader(request), 1 << 16).header
