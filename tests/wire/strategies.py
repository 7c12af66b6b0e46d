"""Hypothesis strategies for the PSA nouns of `refimpl.psa.types`, shared by the bincode and codec tests.

Sizes (key bits, MAC and tag lengths) are u32 in the protobuf contracts and usize (u64) in bincode, so the
strategies take the largest integer to draw.
"""

from __future__ import annotations

from hypothesis import strategies as st

from refimpl.psa import types as t
from refimpl.wire import convert_psa

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

hashes = st.sampled_from(t.Hash)
sign_hashes = st.one_of(hashes, st.just(t.AnyHash()))
full_macs = st.one_of(st.builds(t.HmacAlg, hashes), st.just(t.CbcMac()), st.just(t.Cmac()))
kdfs = st.one_of(st.builds(t.Hkdf, hashes), st.builds(t.Tls12Prf, hashes), st.builds(t.Tls12PskToMs, hashes))
signatures = st.one_of(
    st.builds(t.RsaPkcs1v15Sign, sign_hashes),
    st.just(t.RsaPkcs1v15SignRaw()),
    st.builds(t.RsaPss, sign_hashes),
    st.builds(t.Ecdsa, sign_hashes),
    st.just(t.EcdsaAny()),
    st.builds(t.DeterministicEcdsa, sign_hashes),
)
encryptions = st.one_of(st.just(t.RsaPkcs1v15Crypt()), st.builds(t.RsaOaep, hashes))
key_types = st.one_of(
    st.sampled_from(
        [
            t.RawData(),
            t.Hmac(),
            t.Derive(),
            t.Aes(),
            t.Des(),
            t.Camellia(),
            t.Arc4(),
            t.Chacha20(),
            t.RsaPublicKey(),
            t.RsaKeyPair(),
        ]
    ),
    st.builds(t.EccKeyPair, st.sampled_from(t.EccFamily)),
    st.builds(t.EccPublicKey, st.sampled_from(t.EccFamily)),
    st.builds(t.DhKeyPair, st.sampled_from(t.DhFamily)),
    st.builds(t.DhPublicKey, st.sampled_from(t.DhFamily)),
)


def aeads(max_int: int = U32_MAX) -> st.SearchStrategy[t.Aead]:
    aead_algs = st.sampled_from(t.AeadWithDefaultLengthTag)
    return st.one_of(
        st.builds(t.AeadDefaultTag, aead_algs), st.builds(t.AeadShortenedTag, aead_algs, st.integers(0, max_int))
    )


def algorithms(max_int: int = U32_MAX) -> st.SearchStrategy[t.Algorithm]:
    return st.one_of(
        st.just(t.AlgorithmNone()),
        hashes,
        full_macs,
        st.builds(t.TruncatedMac, full_macs, st.integers(0, max_int)),
        st.sampled_from(t.Cipher),
        aeads(max_int),
        signatures,
        encryptions,
        st.sampled_from(t.RawKeyAgreement),
        st.builds(t.KeyAgreementWithKdf, st.sampled_from(t.RawKeyAgreement), kdfs),
        kdfs,
    )


def key_attributes(max_int: int = U32_MAX) -> st.SearchStrategy[t.KeyAttributes]:
    usage = st.builds(t.UsageFlags, *[st.booleans()] * 10).map(convert_psa.normalised_usage)  # as Parsec holds them
    return st.builds(
        t.KeyAttributes, key_types, st.integers(0, max_int), st.builds(t.KeyPolicy, usage, algorithms(max_int))
    )
