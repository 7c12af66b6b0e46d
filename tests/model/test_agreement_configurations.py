"""The twin agrees with the model on every transition and status in the 2024 revision's configurations that add
something to check: DSPC (Unix peer credentials an attacker can hold) and JWTS (the SPIFFE validation capabilities).
GNRC and DRCT run the same transitions under the seed's authenticators (checked in `test_agreement`). A module of its
own so that the suite's workers can run it beside the seed's."""

from __future__ import annotations

import pytest

from model.nouns import VariantName
from tests.model.test_agreement import assert_full_agreement


@pytest.mark.parametrize("variant", ["DSPC", "JWTS"])
def test_the_twin_agrees_in_the_configuration(variant: VariantName) -> None:
    assert_full_agreement(variant)
