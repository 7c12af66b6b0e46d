"""A progress bar for `parsec-tm fuzz`, shown only when the output is a terminal.

On a pipe, a CI log or with
`--format json` nothing is drawn, so machine-read output stays clean.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO


class Progress:
    """Counts steps towards a total; draws a tqdm bar on `stream` only if it is a TTY and `enabled`."""

    def __init__(self, total: int, *, description: str = "fuzz", stream: TextIO | None = None, enabled: bool = True):
        self.total = total
        self.done = 0
        stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        if enabled and stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=description, unit="step", file=stream, dynamic_ncols=True, leave=False)

    @property
    def drawing(self) -> bool:
        return self._bar is not None

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        if self._bar is not None:
            self._bar.update(steps)

    def note(self, text: str) -> None:
        """Show what the fuzzer is doing now (a restart, shrinking) next to the bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
