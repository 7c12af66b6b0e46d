"""Logging for the reference service: one logger per component, a timestamp on every line, the M-4 events.

Implements the seed's mitigations M-7 ("logging is configured to include the software component from where
logs are generated") and M-4 (six events logged with the application identity, date and time), and Parsec's
log format (`svc:src/bin/main.rs`, env_logger `[LEVEL module::path] message`; parsec-facts §6.3). Every line is

    2026-11-29T10:15:02.123Z [INFO  refimpl.front.front_end] new request received: app="tenant-a" auth=Direct ...

Components log through `logging.getLogger(__name__)`, so the bracket names the module that emitted the line.
`log_event` is the one way to write an M-4 event. Nothing here ever receives a secret: callers pass identities,
key names, opcodes and statuses — never auth bytes, request bodies, PINs or key material. Application names, and
any other string that is not a plain word, are written JSON-quoted, so a name cannot forge a log line (A8-S-1).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sys
import time
from enum import StrEnum
from typing import TextIO

from refimpl.identity import ApplicationIdentity
from refimpl.ids import INTERNAL_AUTH_ID, AuthType

LOG_LEVELS: dict[str, int] = {
    "off": logging.CRITICAL + 10,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": logging.DEBUG,
}
"""Parsec's `core_settings.log_level` values (env_logger's) and the Python level each one means."""

SERVICE_LOGGERS = ("refimpl", "parsec_tm")
"""The component loggers the service configures; third-party libraries keep Python's defaults."""


class Event(StrEnum):
    """The six events of the seed's mitigation M-4, in its words."""

    REQUEST_RECEIVED = "new request received"
    RESPONSE_SENT = "response sent back"
    MAPPING_CREATED = "new mapping created"
    MAPPING_READ = "mapping is read from the persistent store"
    HARDWARE_COMMAND_ISSUED = "a hardware command is issued"
    HARDWARE_COMMAND_RECEIVED = "a hardware command is received"


class ServiceFormatter(logging.Formatter):
    """`<ISO-8601 UTC time> [LEVEL module.path] message`: date and time (M-4) and the component (M-7)."""

    _second: tuple[int, str] = (-1, "")

    def stamp(self, second: int) -> str:
        """`2026-11-29T10:15:02` for a Unix time in whole seconds (computed once per second)."""
        cached = self._second
        if cached[0] != second:
            cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            self._second = cached  # one tuple assignment: safe to race between threads
        return cached[1]

    def line(self, created: float, level: str, name: str, message: str) -> str:
        second = int(created)
        return f"{self.stamp(second)}.{int((created - second) * 1000):03d}Z [{level:<5} {name}] {message}"

    def format(self, record: logging.LogRecord) -> str:
        level = _LEVEL_NAMES.get(record.levelno, record.levelname)
        text = self.line(record.created, level, record.name, record.getMessage())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


_LEVEL_NAMES = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "ERROR",
}


class _EventSink:
    """The configured handler, written to directly for M-4 events: several per request, so they skip LogRecord,
    and, when the stream has a descriptor, the text layer too (one `write` system call per line)."""

    def __init__(self, handler: logging.StreamHandler[TextIO], formatter: ServiceFormatter) -> None:
        self.handler = handler
        self.formatter = formatter
        self._heads: dict[str, str] = {}
        try:
            handler.stream.flush()
            self._descriptor: int | None = handler.stream.fileno()
        except (AttributeError, OSError, ValueError):  # io.StringIO and the like: no descriptor
            self._descriptor = None

    def write(self, name: str, message: str) -> None:
        """One line, written before returning: a crash loses no event already logged."""
        descriptor = self._descriptor
        if descriptor is None:
            text = self.formatter.line(time.time(), "INFO", name, message) + "\n"
            with self.handler.lock or contextlib.nullcontext():
                self.handler.stream.write(text)
                self.handler.stream.flush()
            return
        head = self._heads.get(name)
        if head is None:
            head = self._heads[name] = f"Z [INFO  {name}] "
        now = time.time()
        second = int(now)
        data = f"{self.formatter.stamp(second)}.{int((now - second) * 1000):03d}{head}{message}\n".encode()
        with self.handler.lock or contextlib.nullcontext():  # the handler's own lines are flushed: no interleaving
            while data:
                data = data[os.write(descriptor, data) :]


_sink: _EventSink | None = None


def configure(level: str = "info", stream: TextIO | None = None) -> None:
    """Send the service's component loggers to `stream` (stderr by default) at Parsec's `level` name.

    Called once at start-up; like Parsec, a SIGHUP reload does not re-apply `log_level` (parsec-facts §5.6).
    Caller, thread and process lookups are switched off: the format uses none of them, and they cost more than
    the rest of a Ping.
    """
    global _sink
    formatter = ServiceFormatter()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # documented switch: no findCaller() per record
    for name in SERVICE_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(LOG_LEVELS[level])
        logger.propagate = False
    _sink = _EventSink(handler, formatter)


def quoted(text: str) -> str:
    """A user-chosen string as a JSON literal: quotes and control characters escaped, so it cannot split a line."""
    return json.dumps(text)


_PLAIN = re.compile(r"[A-Za-z0-9_.:/-]+")


def field_value(value: object) -> str:
    """A field value for a log line: plain words as they are, any other string quoted (see `quoted`)."""
    return _text_field(value) if isinstance(value, str) else str(value)


@functools.lru_cache(maxsize=4096)
def _text_field(value: str) -> str:
    return value if _PLAIN.fullmatch(value) else quoted(value)


@functools.lru_cache(maxsize=4096)
def describe_application(application: ApplicationIdentity | None) -> str:
    """`app="tenant-a" auth=Direct`, or `app=none` for a request without authentication."""
    if application is None:
        return "app=none"
    if application.authenticator_id == INTERNAL_AUTH_ID:
        auth = "Internal"
    else:
        auth = AuthType(application.authenticator_id).name.title().replace("_", "")
    return f"app={quoted(application.name)} auth={auth}"


def log_event(
    logger: logging.Logger,
    event: Event,
    application: ApplicationIdentity | None,
    **fields: object,
) -> None:
    """Write one M-4 event at INFO: the event, who it concerns, then `key=value` fields (see `field_value`)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    parts = [event, ": ", describe_application(application)]
    for name, value in fields.items():
        parts.append(f" {name}={_text_field(value) if isinstance(value, str) else value}")
    message = "".join(parts)
    if _sink is not None and logger.name.startswith(SERVICE_LOGGERS):
        _sink.write(logger.name, message)
    else:
        logger.info(message)
