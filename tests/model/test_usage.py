"""Usage flags as Parsec reports them: sign_hash implies sign_message, verify_hash implies verify_message.

parsec-interface's converter builds a key's PSA usage flags through psa-crypto's `UsageFlags::set_sign_hash` and
`set_verify_hash`, which set the message flags too; the model normalises the same way, concretely and symbolically.
"""

from __future__ import annotations

import z3

from model import KeyAttributes, KeyKind, KeyName, ProviderId, Tenant, Usage
from model import initial_state as fresh
from model.codec import attrs_term
from model.nouns import normalise_usage
from model.operations import GenerateKey
from model.step import step
from model.symbolic import ENUMS as E


def test_hash_flags_imply_message_flags() -> None:
    signing = KeyAttributes(KeyKind.ECC_SIGN_PAIR, frozenset({Usage.SIGN_HASH, Usage.VERIFY_HASH}))
    assert signing.usage == {Usage.SIGN_HASH, Usage.VERIFY_HASH, Usage.SIGN_MESSAGE, Usage.VERIFY_MESSAGE}
    verifying = KeyAttributes(KeyKind.ECC_PUBLIC, frozenset({Usage.VERIFY_HASH}))
    assert verifying.usage == {Usage.VERIFY_HASH, Usage.VERIFY_MESSAGE}


def test_other_flags_stay_as_asked() -> None:
    asked = frozenset({Usage.EXPORT, Usage.ENCRYPT, Usage.DECRYPT, Usage.DERIVE, Usage.SIGN_MESSAGE})
    assert normalise_usage(asked) == asked
    assert KeyAttributes(KeyKind.AES, asked) == KeyAttributes(KeyKind.AES, asked)


def test_a_created_key_holds_the_normalised_flags() -> None:
    alice = Tenant("direct", "alice")
    asked = KeyAttributes(KeyKind.ECC_SIGN_PAIR, frozenset({Usage.SIGN_HASH}))
    state, outcome = step(fresh("no-idp"), GenerateKey(alice, ProviderId.MBED_CRYPTO, KeyName("k1"), asked))
    assert outcome.status == "Success"
    (key,) = state.provider_keys.values()
    assert Usage.SIGN_MESSAGE in key.attributes.usage


def test_the_twin_normalises_as_the_model_does() -> None:
    raw = E.Attrs.constructor(0)(E.kind[KeyKind.ECC_SIGN_PAIR], *(z3.BoolVal(u is Usage.SIGN_HASH) for u in Usage))
    expected = attrs_term(KeyAttributes(KeyKind.ECC_SIGN_PAIR, frozenset({Usage.SIGN_HASH})))
    solver = z3.Solver()
    solver.add(E.normalised(raw) != expected)
    assert solver.check() == z3.unsat
