"""The conformance machine's properties (`parsec_tm.conformance.machine`) and the threat rows each one checks.

The machine carries no threat IDs of its own, so the mapping is declared here, once. Each property is checked by
the tests that run the machine against a real service (`checked_by`: node-ID prefixes in the test results file);
its outcome is theirs. The rows follow the planted-bug tests of the machine, which show each property catching the
fault the row describes.
"""

from __future__ import annotations

from dataclasses import dataclass

CAMPAIGN_TESTS = ("tests/conformance/test_campaigns.py", "tests/conformance/test_planted_bugs.py")


@dataclass(frozen=True)
class FuzzProperty:
    """A property the conformance machine checks on every step, and the threat rows it checks."""

    id: str
    statement: str
    threats: tuple[str, ...]
    checked_by: tuple[str, ...] = CAMPAIGN_TESTS


FUZZ_PROPERTIES: tuple[FuzzProperty, ...] = (
    FuzzProperty(
        "conformance:tenant-keys",
        "tenants colliding on the same key names each reach only their own keys: key lists, public keys, signatures, "
        "decryptions and key agreements are the model's, which keeps tenant-isolation",
        ("A7-T-1",),
    ),
    FuzzProperty(
        "conformance:keys-survive-lifecycle",
        "every usable key stays usable with the same public key through SIGHUP, graceful restart, kill -9 and a "
        "crash between the provider write and the mapping write",
        ("A3-D-1", "A7-D-2"),
    ),
    FuzzProperty(
        "conformance:statuses-as-model",
        "every answer's status is the one the model gives, so the service discloses no more than the audited statuses",
        ("A2-I-2",),
    ),
    FuzzProperty(
        "conformance:oversized-request-refused",
        "a request over the buffer size limit is refused with the model's status and the service keeps answering",
        ("A1-D-2",),
    ),
)
