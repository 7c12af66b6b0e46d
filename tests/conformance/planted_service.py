"""The reference service with a bug planted in its software provider: what the planted-bug tests fuzz.

Issue "Stateful conformance", item 4 ("the fuzzer can fail"). `python -m tests.conformance.planted_service BUG
--config FILE` registers a deliberately broken subclass of the software provider under Parsec's `MbedCrypto`
provider type, then runs `parsec-tm serve --config FILE` unchanged. Two bugs, each a plausible mistake:

* `isolation` — a key lookup that misses in the caller's namespace falls back to any tenant's key of that name
  (breaks tenant isolation: another tenant's key is exported, used and seen);
* `persistence` — the start-up sweep believes the key store lost every key, so each reload or restart drops all
  mappings and destroys the keys as orphans (breaks persistence across SIGHUP and restarts).

`isolation-behind-rejection` and `persistence-behind-rejection` are the same bugs, armed only once the process has
answered a PKCS#1 v1.5 decryption whose padding was wrong (implicit rejection: a pseudo-random plaintext, where
Parsec answers PsaErrorInvalidPadding). They sit behind that deviation: a campaign that does not declare it stops
there and never reaches them (the declared-deviation tests).
"""

from __future__ import annotations

import sys

from cryptography.hazmat.primitives.asymmetric import rsa

from parsec_tm.cli.serve import main as serve
from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.key_info_managers.base import KeyMapping
from refimpl.operations import AsymmetricDecrypt, AsymmetricDecryptResult
from refimpl.providers.base import PROVIDER_TYPES, handles
from refimpl.providers.software import SoftwareProvider
from refimpl.psa.types import RsaPkcs1v15Crypt

BUGS = ("isolation", "persistence", "isolation-behind-rejection", "persistence-behind-rejection")
REJECTED = {"yes": False}
"""Set once this process has answered a PKCS#1 v1.5 decryption with bad padding (kept across SIGHUP reloads)."""


def bad_pkcs1_padding(private: rsa.RSAPrivateKey, ciphertext: bytes) -> bool:
    """Whether `ciphertext` is not PKCS#1 v1.5 encryption padding under `private` (what implicit rejection hides)."""
    numbers = private.private_numbers()
    size = (numbers.public_numbers.n.bit_length() + 7) // 8
    block = pow(int.from_bytes(ciphertext, "big"), numbers.d, numbers.public_numbers.n).to_bytes(size, "big")
    separator = block.find(b"\x00", 2)
    return block[:2] != b"\x00\x02" or separator < 10


class IsolationBug(SoftwareProvider):
    """Falls back to another tenant's key when the caller has none of that name."""

    def mapping_of(self, application: Application | None, key_name: str) -> KeyMapping:
        try:
            return super().mapping_of(application, key_name)
        except ParsecError:
            for key, mapping in self.key_info_manager.keys(self.name):
                if key.key_name == key_name:
                    return mapping
            raise


class PersistenceBug(SoftwareProvider):
    """Its start-up sweep finds none of the keys it holds."""

    def key_exists(self, key_id: bytes) -> bool:
        return False


class NoticesRejection(SoftwareProvider):
    """Records that it answered a PKCS#1 v1.5 decryption with bad padding (`REJECTED`)."""

    @handles(AsymmetricDecrypt)
    def asymmetric_decrypt(
        self, application: Application | None, operation: AsymmetricDecrypt
    ) -> AsymmetricDecryptResult:
        result = super().asymmetric_decrypt(application, operation)
        private = self.loaded_key(application, operation.key_name).private_key
        if isinstance(operation.alg, RsaPkcs1v15Crypt) and isinstance(private, rsa.RSAPrivateKey):
            REJECTED["yes"] = REJECTED["yes"] or bad_pkcs1_padding(private, operation.ciphertext)
        return result


class IsolationBehindRejection(NoticesRejection, IsolationBug):
    def mapping_of(self, application: Application | None, key_name: str) -> KeyMapping:
        if REJECTED["yes"]:
            return IsolationBug.mapping_of(self, application, key_name)
        return SoftwareProvider.mapping_of(self, application, key_name)


class PersistenceBehindRejection(NoticesRejection, PersistenceBug):
    def key_exists(self, key_id: bytes) -> bool:
        return not REJECTED["yes"] and SoftwareProvider.key_exists(self, key_id)


PLANTED: dict[str, type[SoftwareProvider]] = {
    "isolation": IsolationBug,
    "persistence": PersistenceBug,
    "isolation-behind-rejection": IsolationBehindRejection,
    "persistence-behind-rejection": PersistenceBehindRejection,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BUGS:
        print(f"usage: planted_service {{{','.join(BUGS)}}} --config FILE", file=sys.stderr)
        return 2
    PROVIDER_TYPES["MbedCrypto"] = PLANTED[argv[0]]
    return serve(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
