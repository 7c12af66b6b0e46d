"""The reference service with a bug planted in its software provider: what the planted-bug tests fuzz.

Issue "Stateful conformance", item 4 ("the fuzzer can fail"). `python -m tests.conformance.planted_service BUG
--config FILE` registers a deliberately broken subclass of the software provider under Parsec's `MbedCrypto`
provider type, then runs `parsec-tm serve --config FILE` unchanged. Two bugs, each a plausible mistake:

* `isolation` — a key lookup that misses in the caller's namespace falls back to any tenant's key of that name
  (breaks tenant isolation: another tenant's key is exported, used and seen);
* `persistence` — the start-up sweep believes the key store lost every key, so each reload or restart drops all
  mappings and destroys the keys as orphans (breaks persistence across SIGHUP and restarts).
"""

from __future__ import annotations

import sys

from parsec_tm.cli.serve import main as serve
from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.key_info_managers.base import KeyMapping
from refimpl.providers.base import PROVIDER_TYPES
from refimpl.providers.software import SoftwareProvider

BUGS = ("isolation", "persistence")


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


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BUGS:
        print(f"usage: planted_service {{{','.join(BUGS)}}} --config FILE", file=sys.stderr)
        return 2
    PROVIDER_TYPES["MbedCrypto"] = IsolationBug if argv[0] == "isolation" else PersistenceBug
    return serve(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
