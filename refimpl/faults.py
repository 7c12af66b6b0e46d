"""Test-only crash points: kill the service at an exact step of a key's life cycle, as `kill -9` would.

The formal model has transitions for a crash between the provider write and the mapping write (and between the
mapping removal and the provider destroy); the stateful conformance harness (`parsec_tm.conformance`) needs the
running service to crash at exactly those points, which `kill -9` from outside cannot hit. A point is armed by
writing its name into the file named by `PARSEC_TM_FAULT_FILE`; it fires once (the file is removed first). With the
variable unset — every real deployment — a crash point costs one environment lookup and does nothing.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

FAULT_FILE_ENV = "PARSEC_TM_FAULT_FILE"
AFTER_PROVIDER_WRITE = "after-provider-write"
AFTER_MAPPING_REMOVAL = "after-mapping-removal"


def crash_point(name: str) -> None:
    """SIGKILL this process if the fault file holds `name`."""
    path = os.environ.get(FAULT_FILE_ENV)
    if not path:
        return
    try:
        armed = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return
    if armed == name:
        Path(path).unlink(missing_ok=True)
        os.kill(os.getpid(), signal.SIGKILL)
