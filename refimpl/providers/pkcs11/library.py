"""A PKCS#11 library loaded safely for threads, its tokens' login, and the pool of sessions requests run in.

Parsec's `svc:src/providers/pkcs11/mod.rs` (`Pkcs11::new` + `initialize(CInitializeArgs::OS_LOCKING_OK)`,
`new_session`), adapted to the findings of ../shared/reference/providers-on-debian.md §3:

* python-pkcs11 calls `C_Initialize(NULL)`, which tells SoftHSM2 that no thread will ever call it concurrently, so
  SoftHSM turns its mutexes off and crashes under the service's thread pool. `Cryptoki` calls `C_Initialize`
  itself through ctypes with `CKF_OS_LOCKING_OK`, then builds python-pkcs11's `lib` object without running its
  constructor (the constructor is what calls `C_Initialize(NULL)`).
* Login belongs to the token, not to a session: once one session logs in, every session of the process is logged
  in, and closing the logged-in session logs all of them out (seed U-4). `TokenLogin` therefore keeps one
  long-lived login session per token per process, shared by every provider on that token, and requests run in
  PIN-less sessions taken from a pool. `C_Login` goes through ctypes too, so binary (`hex:`) PINs reach the token
  byte for byte instead of through python-pkcs11's UTF-8 encoding.
* SoftHSM2's file store sometimes fails C_GenerateKeyPair (CKR_GENERAL_ERROR, now and then
  CKR_TEMPLATE_INCONSISTENT) while other threads of the process create, destroy, find or use objects. A request
  that creates or destroys token objects therefore has the token to itself (`session(exclusive=True)`, the writer
  of a per-token `ReadWriteLock`), while signing, verifying, finding and the rest stay concurrent with each other.
* Finding a key object costs more than signing with it (2,100 against 5,900 ECDSA signatures per second on
  SoftHSM2), so each pooled session keeps the key objects it has found; destroying a key empties every cache.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import pkcs11
from pkcs11 import Attribute, ObjectClass, TokenFlag
from pkcs11 import _pkcs11 as cython_pkcs11

from refimpl.identity import Application
from refimpl.logs import Event, log_event
from refimpl.providers.secrets import Secret

log = logging.getLogger(__name__)

CK_ULONG = ctypes.c_ulong
CKF_OS_LOCKING_OK = 0x00000002
CKU_USER = 1
CKR_OK = 0x000
CKR_PIN_INCORRECT = 0x0A0
CKR_PIN_INVALID = 0x0A1
CKR_PIN_LEN_RANGE = 0x0A2
CKR_PIN_EXPIRED = 0x0A3
CKR_PIN_LOCKED = 0x0A4
CKR_USER_ALREADY_LOGGED_IN = 0x100
CKR_USER_PIN_NOT_INITIALIZED = 0x102
CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191

_PIN_REFUSALS = {
    CKR_PIN_INCORRECT: "the token refused the PIN",
    CKR_PIN_INVALID: "the token refused the PIN: it contains characters the token does not accept",
    CKR_PIN_LEN_RANGE: "the token refused the PIN: its length is out of the token's range",
    CKR_PIN_EXPIRED: "the token refused the PIN: it has expired; set a new one with the token's tools",
    CKR_PIN_LOCKED: "the token has locked the user PIN after too many failures; unlock it with the SO PIN",
    CKR_USER_PIN_NOT_INITIALIZED: "the token has no user PIN yet; initialise it (softhsm2-util --init-token)",
}


class LibraryError(Exception):
    """The library could not be loaded or initialised; the message says why, for a ConfigError."""


class LoginError(Exception):
    """The token refused the login; the message never contains the PIN."""


class _Version(ctypes.Structure):
    _fields_ = (("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte))


_INITIALIZE = ctypes.CFUNCTYPE(CK_ULONG, ctypes.c_void_p)
_LOGIN = ctypes.CFUNCTYPE(CK_ULONG, CK_ULONG, CK_ULONG, ctypes.c_char_p, CK_ULONG)
_LOGOUT = ctypes.CFUNCTYPE(CK_ULONG, CK_ULONG)
_UNUSED_ENTRIES = (
    "C_GetInfo",
    "C_GetFunctionList",
    "C_GetSlotList",
    "C_GetSlotInfo",
    "C_GetTokenInfo",
    "C_GetMechanismList",
    "C_GetMechanismInfo",
    "C_InitToken",
    "C_InitPIN",
    "C_SetPIN",
    "C_OpenSession",
    "C_CloseSession",
    "C_CloseAllSessions",
    "C_GetSessionInfo",
    "C_GetOperationState",
    "C_SetOperationState",
)


class _FunctionList(ctypes.Structure):
    """The head of `CK_FUNCTION_LIST` (PKCS#11 2.40 order), up to the entries this module calls itself."""

    _fields_ = (
        ("version", _Version),
        ("C_Initialize", _INITIALIZE),
        ("C_Finalize", _INITIALIZE),
        *((name, ctypes.c_void_p) for name in _UNUSED_ENTRIES),
        ("C_Login", _LOGIN),
        ("C_Logout", _LOGOUT),
    )


class _InitializeArgs(ctypes.Structure):
    """`CK_C_INITIALIZE_ARGS`: no mutex callbacks, `CKF_OS_LOCKING_OK` (the library uses the OS's own locks)."""

    _fields_ = (
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", CK_ULONG),
        ("pReserved", ctypes.c_void_p),
    )


class Cryptoki:
    """One PKCS#11 library in this process, initialised once for threads and shared by every provider using it.

    Reference-counted: the last `release()` finalises the library, so a reload (SIGHUP) initialises it afresh and
    sees tokens added since.
    """

    _loaded: ClassVar[dict[str, Cryptoki]] = {}
    _registry_lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._dll = ctypes.CDLL(path)
        except OSError as error:
            raise LibraryError(f"cannot load the PKCS#11 library: {error}") from None
        get_function_list = getattr(self._dll, "C_GetFunctionList", None)
        if get_function_list is None:
            raise LibraryError("the file is not a PKCS#11 library: it has no C_GetFunctionList")
        functions = ctypes.POINTER(_FunctionList)()
        get_function_list.argtypes = (ctypes.POINTER(ctypes.POINTER(_FunctionList)),)
        get_function_list.restype = CK_ULONG
        rv = get_function_list(ctypes.byref(functions))
        if rv != CKR_OK:
            raise LibraryError(f"C_GetFunctionList failed with CKR 0x{rv:x}")
        self._functions = functions.contents
        arguments = _InitializeArgs(flags=CKF_OS_LOCKING_OK)
        rv = self._functions.C_Initialize(ctypes.addressof(arguments))
        if rv == CKR_CRYPTOKI_ALREADY_INITIALIZED:
            log.warning("the PKCS#11 library was already initialised in this process, possibly without OS locking")
        elif rv != CKR_OK:
            raise LibraryError(f"C_Initialize with CKF_OS_LOCKING_OK failed with CKR 0x{rv:x}")
        self._finalize_on_release = rv == CKR_OK  # whoever initialised it first finalises it
        # Cython runs `__cinit__` (dlopen, C_GetFunctionList) on `__new__`; `__init__` would C_Initialize(NULL).
        self.lib: cython_pkcs11.lib = cython_pkcs11.lib.__new__(cython_pkcs11.lib, path)  # type: ignore[call-arg]
        self._users = 0

    @classmethod
    def acquire(cls, path: str) -> Cryptoki:
        with cls._registry_lock:
            cryptoki = cls._loaded.get(path)
            if cryptoki is None:
                cryptoki = cls._loaded[path] = Cryptoki(path)
            cryptoki._users += 1
            return cryptoki

    def release(self) -> None:
        with self._registry_lock:
            self._users -= 1
            if self._users == 0:
                del self._loaded[self.path]
                if self._finalize_on_release:
                    self._functions.C_Finalize(None)

    def initialized_tokens(self) -> list[pkcs11.Token]:
        """Every token that is present and initialised (SoftHSM2 always adds one empty token)."""
        tokens = []
        for slot in self.lib.get_slots(token_present=True):
            token = slot.get_token()
            if token.flags & TokenFlag.TOKEN_INITIALIZED:
                tokens.append(token)
        return tokens

    def login(self, session: pkcs11.Session, pin: Secret) -> None:
        """`C_Login(CKU_USER)` with the PIN's exact bytes; LoginError with a message naming the cause."""
        rv = self._functions.C_Login(session_handle(session), CKU_USER, pin.value, len(pin.value))
        if rv in (CKR_OK, CKR_USER_ALREADY_LOGGED_IN):
            return
        raise LoginError(_PIN_REFUSALS.get(rv, f"C_Login failed with CKR 0x{rv:x}"))

    def logout(self, session: pkcs11.Session) -> None:
        self._functions.C_Logout(session_handle(session))


def session_handle(session: pkcs11.Session) -> int:
    """The `CK_SESSION_HANDLE` python-pkcs11 keeps (its type stubs do not declare it)."""
    return cast(int, session.handle)  # type: ignore[attr-defined]


@dataclass
class PooledSession:
    """A PIN-less session and the key objects found in it, valid while `generation` matches the token's."""

    session: pkcs11.Session
    generation: int
    keys: dict[tuple[bytes, ObjectClass], Any] = field(default_factory=dict)

    def find_key(self, key_id: bytes, object_class: ObjectClass) -> Any:
        """The key object with CKA_ID `key_id` and this class; raises pkcs11.NoSuchKey when there is none."""
        cached = self.keys.get((key_id, object_class))
        if cached is None:
            cached = self.session.get_key(object_class=object_class, id=key_id)
            self.keys[(key_id, object_class)] = cached
        return cached


class ReadWriteLock:
    """Many readers at once, or one writer; a waiting writer goes before readers arriving after it (no starvation).

    Not re-entrant: a thread holding it must not take it again.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    def acquire_read(self) -> None:
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._condition:
            self._readers -= 1
            if self._readers == 0:
                self._condition.notify_all()

    def acquire_write(self) -> None:
        with self._condition:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._condition.wait()
            self._writers_waiting -= 1
            self._writing = True

    def release_write(self) -> None:
        with self._condition:
            self._writing = False
            self._condition.notify_all()

    @contextmanager
    def reading(self) -> Iterator[None]:
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextmanager
    def writing(self) -> Iterator[None]:
        self.acquire_write()
        try:
            yield
        finally:
            self.release_write()


class TokenLogin:
    """One token of one library in this process: its single login session and its pool of request sessions."""

    _open: ClassVar[dict[tuple[str, int], TokenLogin]] = {}
    _registry_lock = threading.Lock()

    def __init__(self, cryptoki: Cryptoki, token: pkcs11.Token) -> None:
        self.cryptoki = cryptoki
        self.token = token
        self._login_session: pkcs11.Session | None = None
        self._pin: Secret | None = None
        self._pool: queue.SimpleQueue[PooledSession] = queue.SimpleQueue()
        self._all_sessions: list[pkcs11.Session] = []
        self._sessions_lock = threading.Lock()
        self._objects = ReadWriteLock()
        self.generation = 0
        self._users = 0

    @classmethod
    def acquire(cls, cryptoki: Cryptoki, token: pkcs11.Token, pin: Secret | None) -> TokenLogin:
        """The shared login of `token`, logged in with `pin` if given; LoginError if the token refuses it.

        A second provider on a token this process is already logged in to cannot have its PIN checked by the
        token (a second C_Login answers "already logged in"), so its PIN is compared with the one that worked.
        """
        key = (cryptoki.path, token.slot.slot_id)
        with cls._registry_lock:
            login = cls._open.get(key)
            if login is None:
                login = cls._open[key] = TokenLogin(cryptoki, token)
            try:
                login._log_in(pin)
            except LoginError:
                if login._users == 0:
                    del cls._open[key]
                    login._close_sessions()
                raise
            login._users += 1
            return login

    def _log_in(self, pin: Secret | None) -> None:
        if pin is None:
            return
        if self._pin is not None:
            if not self._pin.matches(pin):
                raise LoginError("differs from the PIN another provider of this service logged in to the token with")
            return
        session = self._login_session or self.token.open(rw=True)
        self._login_session = session
        log_event(log, Event.HARDWARE_COMMAND_ISSUED, None, command="C_Login", token=self.token.label)
        outcome = "ok"
        try:
            self.cryptoki.login(session, pin)
        except LoginError:
            outcome = "refused"
            raise
        finally:
            log_event(
                log, Event.HARDWARE_COMMAND_RECEIVED, None, command="C_Login", token=self.token.label, result=outcome
            )
        self._pin = pin

    def release(self) -> None:
        """Drop one user; the last one logs out and closes every session (release the library afterwards)."""
        with self._registry_lock:
            self._users -= 1
            if self._users:
                return
            del self._open[(self.cryptoki.path, self.token.slot.slot_id)]
            self._close_sessions()

    def _close_sessions(self) -> None:
        with self._sessions_lock:
            sessions, self._all_sessions = self._all_sessions, []
        for session in sessions:
            _close_quietly(session)
        if self._login_session is not None:
            if self._pin is not None:
                self.cryptoki.logout(self._login_session)
            _close_quietly(self._login_session)
            self._login_session = None
            self._pin = None

    def forget_keys(self) -> None:
        """Invalidate every pooled session's key cache (after a key is destroyed)."""
        with self._sessions_lock:
            self.generation += 1

    def session(self, *, exclusive: bool = False) -> SessionUse:
        """A PIN-less read/write session for one request, returned to the pool afterwards (`with login.session()
        as pooled:`).

        `exclusive` for a request that creates or destroys token objects: no other request of this process runs on
        the token meanwhile. A session the library reports closed or invalid is dropped instead of returned.
        """
        return SessionUse(self, exclusive)

    def take(self) -> PooledSession:
        """A session from the pool, or a new one; its key cache emptied if a key was destroyed since."""
        try:
            pooled = self._pool.get_nowait()
        except queue.Empty:
            session = self.token.open(rw=True)
            with self._sessions_lock:
                self._all_sessions.append(session)
                pooled = PooledSession(session, self.generation)
        if pooled.generation != self.generation:
            pooled.keys.clear()
            pooled.generation = self.generation
        return pooled

    def give_back(self, pooled: PooledSession, error: BaseException | None) -> None:
        """Return the session to the pool, or close it if `error` says the library lost it."""
        if isinstance(error, (pkcs11.ObjectHandleInvalid, pkcs11.KeyHandleInvalid)):
            self.forget_keys()  # a key destroyed elsewhere: every session looks its keys up afresh
        if isinstance(error, _SESSION_LOST):
            with self._sessions_lock:
                if pooled.session in self._all_sessions:
                    self._all_sessions.remove(pooled.session)
            _close_quietly(pooled.session)
        else:
            self._pool.put(pooled)


class SessionUse:
    """`TokenLogin.session()`: the token's object lock (shared, or exclusive) and a pooled session, for one request.

    A class rather than a generator context manager: it runs on every request, and this is half the cost."""

    __slots__ = ("_exclusive", "_login", "_pooled")

    def __init__(self, login: TokenLogin, exclusive: bool) -> None:
        self._login = login
        self._exclusive = exclusive

    def __enter__(self) -> PooledSession:
        objects = self._login._objects
        objects.acquire_write() if self._exclusive else objects.acquire_read()
        try:
            self._pooled = self._login.take()
        except BaseException:
            objects.release_write() if self._exclusive else objects.release_read()
            raise
        return self._pooled

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        objects = self._login._objects
        try:
            self._login.give_back(self._pooled, error)
        finally:
            objects.release_write() if self._exclusive else objects.release_read()


_SESSION_LOST = (pkcs11.SessionClosed, pkcs11.SessionHandleInvalid, pkcs11.DeviceRemoved, pkcs11.TokenNotPresent)


def _close_quietly(session: pkcs11.Session) -> None:
    try:
        session.close()
    except pkcs11.PKCS11Error as error:
        log.debug("closing a PKCS#11 session failed: %s", type(error).__name__)


def key_objects(session: pkcs11.Session, label: str) -> Iterator[Any]:
    """Every private and public key object on the token whose CKA_LABEL is `label`."""
    for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
        yield from session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label})


class hardware_command:  # a class named as the function it was: `with hardware_command(...)`, on every request
    """The M-4 events around one call into the PKCS#11 library: issued before, received after (or on failure)."""

    __slots__ = ("_command", "_identity", "_logger", "_provider")

    def __init__(self, logger: logging.Logger, application: Application | None, command: str, provider: str) -> None:
        self._logger = logger
        self._identity = application.identity if application is not None else None
        self._command = command
        self._provider = provider

    def __enter__(self) -> None:
        log_event(
            self._logger, Event.HARDWARE_COMMAND_ISSUED, self._identity, command=self._command, provider=self._provider
        )

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        outcome = type(error).__name__ if isinstance(error, pkcs11.PKCS11Error) else "ok"
        log_event(
            self._logger,
            Event.HARDWARE_COMMAND_RECEIVED,
            self._identity,
            command=self._command,
            provider=self._provider,
            result=outcome,
        )
