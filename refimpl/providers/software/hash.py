"""HashCompute and HashCompare for the software provider.

Mirrors svc:src/providers/mbed_crypto/hash.rs. No key and no application identity is needed (parsec-facts §2.1).
A digest that does not match, of any length, is PsaErrorInvalidSignature (psa_hash_compare); the comparison is
constant-time. MD2 and MD4 are not supported; RIPEMD-160 is when the local OpenSSL offers it. Deprecated hashes
(MD5, SHA-1) are still computed: deprecation only restricts key policies (parsec-facts §3.7).
"""

from __future__ import annotations

import hashlib
import hmac

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import HashCompare, HashCompareResult, HashCompute, HashComputeResult
from refimpl.providers.base import Provider, handles
from refimpl.psa.types import Hash

HASHLIB_NAMES: dict[Hash, str] = {
    Hash.MD5: "md5",
    Hash.RIPEMD160: "ripemd160",
    Hash.SHA_1: "sha1",
    Hash.SHA_224: "sha224",
    Hash.SHA_256: "sha256",
    Hash.SHA_384: "sha384",
    Hash.SHA_512: "sha512",
    Hash.SHA_512_224: "sha512_224",
    Hash.SHA_512_256: "sha512_256",
    Hash.SHA3_224: "sha3_224",
    Hash.SHA3_256: "sha3_256",
    Hash.SHA3_384: "sha3_384",
    Hash.SHA3_512: "sha3_512",
}
SUPPORTED_HASHES = frozenset(
    hash_alg for hash_alg, name in HASHLIB_NAMES.items() if name in hashlib.algorithms_available
)


def digest(hash_alg: Hash, data: bytes) -> bytes:
    """The digest of `data`; NotSupported for a hash this provider lacks."""
    if hash_alg not in SUPPORTED_HASHES:
        raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, f"{hash_alg.name} is not supported")
    return hashlib.new(HASHLIB_NAMES[hash_alg], data).digest()


class HashOps(Provider):
    """HashCompute, HashCompare."""

    @handles(HashCompute)
    def hash_compute(self, application: Application | None, operation: HashCompute) -> HashComputeResult:
        return HashComputeResult(hash=digest(operation.alg, operation.input))

    @handles(HashCompare)
    def hash_compare(self, application: Application | None, operation: HashCompare) -> HashCompareResult:
        if not hmac.compare_digest(digest(operation.alg, operation.input), operation.hash):
            raise ParsecError(Status.PSA_ERROR_INVALID_SIGNATURE, "the hash does not match")
        return HashCompareResult()
