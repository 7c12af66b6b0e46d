"""The two ways the reference service reports a failure.

* `ParsecError` becomes a response status. It carries the status that goes on the wire and, separately, a detail
  that only ever goes to the log: the seed's mitigation M-1 (statuses are audited not to give too much
  information to the client). A detail never contains a secret (PINs, auth values, key material).
* `ConfigError` stops start-up (or a SIGHUP reload) with a message naming the offending key of config.toml,
  for example `provider[1] (pkcs11-provider).user_pin: the token refused the PIN`.
"""

from __future__ import annotations

from refimpl.ids import Status


class ParsecError(Exception):
    """A failure that becomes a response status.

    `detail` is for the log only: it never reaches the client (M-1) and must never contain a secret.
    """

    def __init__(self, status: Status, detail: str = "") -> None:
        super().__init__(f"{status.parsec_name}: {detail}" if detail else status.parsec_name)
        self.status = status
        self.detail = detail


class ConfigError(Exception):
    """An invalid configuration: `key` is the dotted path of the offending entry in config.toml."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
