"""Declared deviations: a known difference is counted and the run goes on, so the bugs behind it are still found.

The software provider decrypts PKCS#1 v1.5 with implicit rejection (a forged ciphertext gives a pseudo-random
plaintext, where Parsec answers PsaErrorInvalidPadding): with PKCS#1 v1.5 keys, an undeclared campaign stops at
that difference. Declared (the reference service's own file, `refimpl_deviations.toml`), the same campaign goes
past it and still finds each of two planted bugs that are armed only once the service has rejected a padding
implicitly (`tests/conformance/planted_service.py`), and reports how often the deviation matched.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from model.nouns import ProviderId as ModelProviderId
from parsec_tm.conformance.deviations import REFERENCE_DEVIATIONS, Deviation, DeviationError, Deviations, load, parse
from parsec_tm.conformance.runner import run_campaign
from parsec_tm.conformance.settings import DEFAULT_STEPS, Budget
from refimpl.psa import types as t
from tests.conformance.conftest import OwnedTargetFactory

PKCS1 = {ModelProviderId.MBED_CRYPTO: t.RsaPkcs1v15Crypt()}
IMPLICIT_REJECTION = "REF-PKCS1V15-IMPLICIT-REJECTION"


def launcher(bug: str) -> list[str]:
    return [sys.executable, "-m", "tests.conformance.planted_service", bug, "--config"]


def only_implicit_rejection() -> Deviations:
    reference = load(REFERENCE_DEVIATIONS)
    return replace(reference, entries=tuple(entry for entry in reference.entries if entry.id == IMPLICIT_REJECTION))


def test_the_reference_file_parses_and_matches_on_operation_statuses_and_provider() -> None:
    deviations = load(REFERENCE_DEVIATIONS)
    assert IMPLICIT_REJECTION in {entry.id for entry in deviations.entries}
    match = deviations.match(
        "PsaAsymmetricDecrypt", "status", provider="MbedCrypto", model="PsaErrorInvalidPadding", service="Success"
    )
    assert match is not None and match.id == IMPLICIT_REJECTION
    assert (
        deviations.match(
            "PsaAsymmetricDecrypt", "status", provider="Tpm", model="PsaErrorInvalidPadding", service="Success"
        )
        is None
    )
    assert (
        deviations.match(
            "PsaAsymmetricDecrypt",
            "status",
            provider="MbedCrypto",
            model="PsaErrorInvalidPadding",
            service="PsaErrorGenericError",
        )
        is None
    )
    assert (
        deviations.match(
            "PsaSignHash", "status", provider="MbedCrypto", model="PsaErrorInvalidPadding", service="Success"
        )
        is None
    )
    assert deviations.match("PsaAsymmetricDecrypt", "plaintext", provider="MbedCrypto") is None


def test_result_matchers_and_malformed_files(tmp_path: Path) -> None:
    entry = Deviation("X", "because", "PsaAsymmetricDecrypt", "plaintext")
    assert entry.matches("PsaAsymmetricDecrypt", "plaintext", None, None, None)
    assert not entry.matches("PsaAsymmetricDecrypt", "status", None, "A", "B")
    base = {"id": "X", "reason": "r", "operation": "PsaSignHash", "field": "status"}
    for broken, complaint in (
        ({**base, "operation": "SignHash"}, "not a Parsec opcode name"),
        ({**base, "service": "Ok"}, "not a Parsec status name"),
        ({**base, "field": "signature", "model": "Success"}, "only go with"),
        ({**base, "providers": ["Software"]}, "providers must be"),
        ({**base, "colour": "red"}, "unknown keys"),
    ):
        with pytest.raises(DeviationError, match=complaint):
            parse({"deviation": [broken]}, "test.toml")
    with pytest.raises(DeviationError, match="used twice"):
        parse({"deviation": [base, base]}, "test.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[deviation]\n")
    with pytest.raises(DeviationError, match="not valid TOML"):
        load(bad)


@pytest.mark.slow
@pytest.mark.e2e
def test_undeclared_implicit_rejection_stops_the_run(owned_target: OwnedTargetFactory) -> None:
    target = owned_target("software")
    result = run_campaign(target, Budget(steps=DEFAULT_STEPS, seed=3), encryption=PKCS1)
    assert result.divergence is not None, f"PKCS#1 v1.5 decryption was never forged in {result.steps} steps"
    assert "PsaAsymmetricDecrypt" in result.divergence.message and "PsaErrorInvalidPadding" in str(result.divergence)


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("bug", ["isolation-behind-rejection", "persistence-behind-rejection"])
def test_two_planted_bugs_behind_one_declared_deviation_are_still_found(
    owned_target: OwnedTargetFactory, bug: str
) -> None:
    target = owned_target("software", command=launcher(bug))
    result = run_campaign(
        target, Budget(steps=3 * DEFAULT_STEPS, seed=3), deviations=only_implicit_rejection(), encryption=PKCS1
    )
    assert result.divergence is not None, f"the {bug} bug went unnoticed for {result.steps} steps"
    assert "PsaAsymmetricDecrypt" not in result.divergence.message, str(result.divergence)
    (report,) = result.deviations
    assert report["id"] == IMPLICIT_REJECTION
    assert report["count"] >= 1, f"the deviation never matched before the {bug} bug was found ({result.steps} steps)"
