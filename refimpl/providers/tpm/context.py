"""The connection to one TPM: an ESAPI context per TCTI per process, one command at a time, and the storage key.

Parsec's `svc:src/providers/tpm/mod.rs` (one `Mutex<TransientKeyContext>`: "only one request at a time can be
serviced by this provider"; the owner hierarchy's primary key as the parent of every key) and the swtpm notes of
providers-on-debian.md §4, for a TPM reached without a resource manager:

* The TPM has three transient object slots. A client that crashed leaves its objects loaded, so the first start in
  a process flushes every transient object. Each operation then runs under one lock, on its key loaded under the
  storage key; the most recently used key stays loaded (`KEPT_LOADED`, shared by every provider of the process on
  this TPM and keyed by the whole wrapped key), so repeated signatures skip TPM2_Load, which costs more than the
  signature itself on swtpm. It is flushed when another key takes its place, when its key is destroyed and when
  the context closes. A kept handle that another client of the TPM flushed — or whose slot now holds another
  object, which the key's own auth value then fails to open — is dropped without a flush and the command runs
  again on a fresh load (`TpmContext.run_with_key`).
* Other processes may use the TPM at the same time (`--processes N`, another service, a tool), and nothing
  arbitrates between them. A command that finds every slot taken (TPM_RC_OBJECT_MEMORY) or gets one of the TPM's
  transient warnings is sent again after a short pause, a bounded number of times (`TpmContext.retrying`); out of
  room, the process flushes and from then on keeps no key loaded (`sharing`), since one key kept by each of three
  processes would fill the TPM for good, and if that is not enough it flushes every transient object, as at
  start-up (a crashed client's objects would hold their slots until the TPM restarts). An object another client
  flushed between its load and its use is loaded again; one flushed before this process could flush it is only
  forgotten.
* The parent of every key is the TCG-template ECC P-256 storage root key (SRK). It is deterministic — the same
  template under the same owner seed gives the same key — so nothing about it needs storing. It is kept persistent
  at the TCG's SRK handle 0x81000001 (made persistent once, with the owner password), so it costs no transient
  slot and several processes can share the TPM; if that handle holds some other key, the SRK stays loaded as a
  transient object instead. Every start still creates it once with the owner password, which checks that password.
* The SRK and the keys carry `noDA`: their authorisation values are empty (SRK) or 256 random bits (keys), so
  dictionary-attack counting protects nothing, while a tampered mapping's wrong value would otherwise count towards
  a lockout of the whole TPM (providers-on-debian.md §4, pitfall 2).
* tss2 prints a line to stderr for every TPM error, expected or not; unless the operator set TSS2_LOG, it is
  silenced here, and errors reach the service's own log through the provider instead.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, ClassVar, Protocol, TypeVar

os.environ.setdefault("TSS2_LOG", "all+none")

from tpm2_pytss import ESAPI, TSS2_Exception  # after TSS2_LOG is set: tss2 reads it on first use
from tpm2_pytss.constants import (
    ESYS_TR,
    TPM2_CAP,
    TPM2_ECC,
    TPM2_HC,
    TPM2_RC,
    TPM2_SU,
    TPMA_OBJECT,
)
from tpm2_pytss.types import (
    TPM2B_ECC_PARAMETER,
    TPM2B_PRIVATE,
    TPM2B_PUBLIC,
    TPM2B_SENSITIVE_CREATE,
    TPMT_PUBLIC,
)

from refimpl.identity import Application
from refimpl.logs import Event, log_event
from refimpl.providers.secrets import Secret

log = logging.getLogger(__name__)

SRK_HANDLE = 0x81000001
"""The TCG's reserved handle for the storage root key (TCG TPM v2.0 Provisioning Guidance, §7.8)."""

KEY_ATTRIBUTES = (
    TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT | TPMA_OBJECT.SENSITIVEDATAORIGIN | TPMA_OBJECT.USERWITHAUTH
) | TPMA_OBJECT.NODA
"""What every key generated in the TPM carries, besides SIGN_ENCRYPT and/or DECRYPT."""

KEPT_LOADED = 1
"""Keys left loaded after use, when the storage key is persistent. swtpm has three transient object slots, and
TPM2_Load under a persistent parent takes one for the parent during the command; so the kept key is flushed before
another key is loaded (a load fills two slots, as without keeping) and between requests it fills one, leaving two
to another client. With a transient storage key (which holds a slot of its own), or once another client of the
TPM needed the room (`TpmContext.sharing`), no key is kept."""

STALE_HANDLE_ERRORS = frozenset(
    {TPM2_RC.REFERENCE_H0, TPM2_RC.HANDLE, TPM2_RC.AUTH_FAIL, TPM2_RC.BAD_AUTH, TPM2_RC.AUTH_UNAVAILABLE}
)
"""What a kept handle answers once its object is gone (REFERENCE_H0, HANDLE) or its slot holds another object,
whose auth value is not this key's (AUTH_FAIL, BAD_AUTH; every key carries noDA, so nothing counts to a lockout)
or which has none (AUTH_UNAVAILABLE: a public key another client loaded)."""

TRY_AGAIN = frozenset({TPM2_RC.RETRY, TPM2_RC.YIELDED, TPM2_RC.TESTING, TPM2_RC.OBJECT_MEMORY})
"""What a TPM shared without a resource manager answers when the same command may succeed if sent again: its
transient warnings (TPM 2.0 Part 2, §6.6: RETRY, YIELDED, TESTING), which a resource manager would retry, and
OBJECT_MEMORY, every transient slot taken — by another client's objects (a key it keeps loaded or is using) or by a
crashed client's, which nobody will flush."""

ATTEMPTS = 40
"""How often a command is sent while the TPM answers `TRY_AGAIN`, with a growing pause (about 3.5 s in all)."""
FIRST_PAUSE, LONGEST_PAUSE = 0.005, 0.1
"""Seconds between two attempts: doubling from the first to the longest."""
RECLAIM_AFTER = 10
"""Attempts without room after which every transient object is flushed, as at start-up (about 0.5 s of waiting):
the objects of a client that crashed would otherwise hold their slots until the TPM restarts."""
FRESH_ATTEMPTS = 3
"""Loads of one key for one command: another client's start-up or reclaim may flush an object between its load
and its use (`STALE_HANDLE_ERRORS`); a key whose auth value is wrong (a tampered mapping) fails this many times."""

_KEEPING_TRANSIENT = "keeping the storage key loaded as a transient"

T = TypeVar("T")


def _returning(value: T) -> Callable[[], T]:
    return lambda: value


def _raising(error: TSS2_Exception) -> Callable[[], Any]:
    def answer() -> Any:
        raise error

    return answer


class LoadableKey(Protocol):
    """A key wrapped by the storage key (`common.WrappedKey`): what `TpmContext.run_with_key` loads."""

    @property
    def key_id(self) -> bytes: ...
    @property
    def private(self) -> TPM2B_PRIVATE: ...
    @property
    def public(self) -> TPM2B_PUBLIC: ...
    @property
    def auth(self) -> bytes: ...
    @property
    def name(self) -> bytes: ...


class TpmUnreachable(Exception):
    """The TCTI could not be opened or the TPM did not answer (for `skip_if_no_tpm`)."""


class HierarchyAuthError(Exception):
    """The TPM refused a hierarchy password; `hierarchy` is "owner" or "endorsement". Never holds the password."""

    def __init__(self, hierarchy: str, message: str) -> None:
        super().__init__(message)
        self.hierarchy = hierarchy


def srk_template() -> TPM2B_PUBLIC:
    """The TCG ECC P-256 storage root key template: restricted decrypt, AES-128-CFB, noDA, zero-filled unique."""
    attributes = (
        TPMA_OBJECT.FIXEDTPM
        | TPMA_OBJECT.FIXEDPARENT
        | TPMA_OBJECT.SENSITIVEDATAORIGIN
        | TPMA_OBJECT.USERWITHAUTH
        | TPMA_OBJECT.NODA
        | TPMA_OBJECT.RESTRICTED
        | TPMA_OBJECT.DECRYPT
    )
    public = TPMT_PUBLIC.parse("ecc256:aes128cfb", objectAttributes=attributes)
    public.parameters.eccDetail.curveID = TPM2_ECC.NIST_P256
    public.unique.ecc.x = TPM2B_ECC_PARAMETER(b"\x00" * 32)
    public.unique.ecc.y = TPM2B_ECC_PARAMETER(b"\x00" * 32)
    return TPM2B_PUBLIC(public)


def _is_auth_failure(error: TSS2_Exception) -> bool:
    return error.error in (TPM2_RC.BAD_AUTH, TPM2_RC.AUTH_FAIL)


class TpmContext:
    """One TPM as this process sees it: the ESAPI context, its lock and the parent key. Reference-counted."""

    _open: ClassVar[dict[str, TpmContext]] = {}
    _registry_lock = threading.Lock()

    def __init__(self, tcti: str) -> None:
        self.tcti = tcti
        self.lock = threading.Lock()
        try:
            self.esapi = ESAPI(tcti)
        except TSS2_Exception as error:
            raise TpmUnreachable(f"cannot open the TCTI {tcti!r}: {error}") from None
        self.parent = ESYS_TR.NONE
        self.parent_is_transient = False
        self.parent_public = TPMT_PUBLIC()
        self._kept: OrderedDict[bytes, ESYS_TR] = OrderedDict()
        """Key id → handle of the keys left loaded, least recently used first; guarded by `lock`."""
        self.sharing = False
        """Whether another client of the TPM took object slots this process needed; then no key is kept loaded."""
        self._users = 0
        try:
            self._start()
        except BaseException:
            self.esapi.close()
            raise

    @classmethod
    def acquire(cls, tcti: str, owner_auth: Secret, endorsement_auth: Secret | None) -> TpmContext:
        """The shared context for `tcti`, with both hierarchy passwords checked by the TPM itself."""
        with cls._registry_lock:
            context = cls._open.get(tcti)
            created = context is None
            if context is None:
                context = TpmContext(tcti)
            try:
                with context.lock:
                    context._establish_parent(owner_auth)
                    if endorsement_auth is not None:
                        context._check_endorsement(endorsement_auth)
            except BaseException:
                if created:
                    context._close()
                raise
            cls._open[tcti] = context
            context._users += 1
            return context

    def release(self) -> None:
        """Drop one user; the last one flushes the kept keys and the transient SRK (if any), and disconnects."""
        with self._registry_lock:
            self._users -= 1
            if self._users == 0:
                del self._open[self.tcti]
                self._close()

    def _close(self) -> None:
        with self.lock:
            self._flush_kept()
            if self.parent != ESYS_TR.NONE and self.parent_is_transient:
                self._quietly_flush(self.parent)
            self.esapi.close()

    # -- start-up -------------------------------------------------------------------------------------------

    def _start(self) -> None:
        """Start the TPM if nobody has, then flush the transient objects crashed clients left behind."""
        try:
            self.esapi.startup(TPM2_SU.CLEAR)
        except TSS2_Exception as error:
            if error.error != TPM2_RC.INITIALIZE:  # already started: the usual case
                raise TpmUnreachable(f"the TPM did not start: {error}") from None
        flushed = self._flush_transients()
        if flushed:
            log.warning("flushed %d transient objects left loaded in the TPM by another client", flushed)

    def _flush_transients(self) -> int:
        """Flush every transient object in the TPM but this context's own storage key; how many were flushed.

        Another client may flush one of them first (it starts too, or it is done with it): that one is skipped.
        """
        own = int(self.esapi.tr_get_tpm_handle(self.parent)) if self.parent_is_transient else None
        flushed = 0
        for handle in self._transient_handles():
            if handle == own:
                continue
            try:
                self.esapi.flush_context(self.esapi.tr_from_tpmpublic(handle))
            except TSS2_Exception as error:
                log.debug("transient object 0x%08x was already gone: %s", handle, error)
            else:
                flushed += 1
        return flushed

    def _transient_handles(self) -> list[int]:
        _, data = self.esapi.get_capability(TPM2_CAP.HANDLES, TPM2_HC.TRANSIENT_FIRST, 64)
        return [int(handle) for handle in data.data.handles]

    def _persistent_handles(self) -> list[int]:
        _, data = self.esapi.get_capability(TPM2_CAP.HANDLES, TPM2_HC.PERSISTENT_FIRST, 64)
        return [int(handle) for handle in data.data.handles]

    def _establish_parent(self, owner_auth: Secret) -> None:
        """Create the SRK with the owner password (which checks it), then use or make the persistent copy."""
        self.esapi.tr_set_auth(ESYS_TR.OWNER, owner_auth.value)
        try:
            transient, public = self._create_srk()
            if self.parent != ESYS_TR.NONE:  # a second provider on this TPM: the password was all to check
                self._quietly_flush(transient)
                return
            self.parent_public = public.publicArea
            self.parent, self.parent_is_transient = self._persistent_srk(transient, public)
        finally:
            self.esapi.tr_set_auth(ESYS_TR.OWNER, b"")

    def _create_srk(self) -> tuple[ESYS_TR, TPM2B_PUBLIC]:
        """The SRK, created and loaded as a transient object (the owner's auth value set)."""
        try:
            with self.hardware(log, None, "TPM2_CreatePrimary"):
                transient, public, _, _, _ = self.retrying(
                    lambda: self.esapi.create_primary(TPM2B_SENSITIVE_CREATE(), srk_template(), ESYS_TR.OWNER)
                )
        except TSS2_Exception as error:
            if _is_auth_failure(error):
                raise HierarchyAuthError("owner", "the TPM refused the owner hierarchy password") from None
            raise
        return transient, public

    def _persistent_srk(self, transient: ESYS_TR, public: TPM2B_PUBLIC) -> tuple[ESYS_TR, bool]:
        """The SRK at 0x81000001 (made persistent if the handle is free); the transient one if it is taken.

        Processes starting together on a fresh TPM race: the losers find the handle defined (TPM_RC_NV_DEFINED)
        and use the winner's copy; a transient SRK flushed by another client's start-up is created again.
        Reading a persistent object takes a transient slot, so the transient SRK is flushed first, and created
        again only if the handle holds some other key.
        """
        for attempt in range(1, FRESH_ATTEMPTS + 1):
            if SRK_HANDLE in self._persistent_handles():
                break
            try:
                with self.hardware(log, None, "TPM2_EvictControl"):
                    persistent = self.retrying(partial(self.esapi.evict_control, ESYS_TR.OWNER, transient, SRK_HANDLE))
            except TSS2_Exception as error:
                if error.error == TPM2_RC.NV_DEFINED:  # another process made it persistent just now
                    break
                if error.error == TPM2_RC.REFERENCE_H1 and attempt < FRESH_ATTEMPTS:
                    self.esapi.tr_close(transient)  # another client's start-up flushed it
                    transient = self._create_srk()[0]
                    continue
                log.warning("cannot make the storage key persistent (%s); %s", error, _KEEPING_TRANSIENT)
                return transient, True
            self._quietly_flush(transient)
            return persistent, False
        self._quietly_flush(transient)
        persistent = self.retrying(lambda: self.esapi.tr_from_tpmpublic(SRK_HANDLE))
        if bytes(self.esapi.tr_get_name(persistent)) == bytes(public.get_name()):
            return persistent, False
        self.esapi.tr_close(persistent)
        log.warning("handle 0x%08x holds another key; %s", SRK_HANDLE, _KEEPING_TRANSIENT)
        return self._create_srk()[0], True

    def _check_endorsement(self, endorsement_auth: Secret) -> None:
        """Use the endorsement hierarchy once with its password, so a wrong one stops start-up."""
        self.esapi.tr_set_auth(ESYS_TR.ENDORSEMENT, endorsement_auth.value)
        try:
            with self.hardware(log, None, "TPM2_CreatePrimary"):
                handle, _, _, _, _ = self.retrying(
                    lambda: self.esapi.create_primary(TPM2B_SENSITIVE_CREATE(), srk_template(), ESYS_TR.ENDORSEMENT)
                )
            self._quietly_flush(handle)
        except TSS2_Exception as error:
            if _is_auth_failure(error):
                raise HierarchyAuthError("endorsement", "the TPM refused the endorsement hierarchy password") from None
            raise
        finally:
            self.esapi.tr_set_auth(ESYS_TR.ENDORSEMENT, b"")

    def _quietly_flush(self, handle: ESYS_TR) -> None:
        try:
            self.esapi.flush_context(handle)
        except TSS2_Exception as error:
            log.debug("flushing a TPM object failed: %s", error)

    # -- operations -------------------------------------------------------------------------------------------

    @contextmanager
    def hardware(
        self, logger: logging.Logger, application: Application | None, command: str, provider: str = ""
    ) -> Iterator[None]:
        """The M-4 events around TPM commands: issued before, received after (also when the TPM says no)."""
        identity = application.identity if application is not None else None
        log_event(logger, Event.HARDWARE_COMMAND_ISSUED, identity, command=command, provider=provider)
        outcome = "ok"
        try:
            yield
        except TSS2_Exception as error:
            outcome = f"0x{error.rc:x}"
            raise
        finally:
            log_event(
                logger, Event.HARDWARE_COMMAND_RECEIVED, identity, command=command, provider=provider, result=outcome
            )

    def retrying(self, command: Callable[[], T]) -> T:
        """`command()`, sent again (`ATTEMPTS` in all) while the TPM answers `TRY_AGAIN`. Call with `lock` held.

        Out of object memory, the kept keys are flushed first, and this process keeps none from then on
        (`sharing`): with three slots and two needed by a load under the persistent storage key, one key kept by
        each of several processes would deny every load to all of them. If that is not enough, every transient
        object is flushed after `RECLAIM_AFTER` attempts; the clients of this provider load again what they lost.
        """
        pause = FIRST_PAUSE
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return command()
            except TSS2_Exception as error:
                if error.error not in TRY_AGAIN or attempt == ATTEMPTS:
                    raise
                if error.error == TPM2_RC.OBJECT_MEMORY:
                    if not self.sharing:
                        log.info("another client of the TPM needs its object slots: keeping no key loaded")
                    self.sharing = True
                    self._flush_kept()
                    if attempt == RECLAIM_AFTER:
                        log.warning("no room in the TPM: flushed %d transient objects", self._flush_transients())
            time.sleep(pause)
            pause = min(2 * pause, LONGEST_PAUSE)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _flush_kept(self) -> None:
        while self._kept:
            self._quietly_flush(self._kept.popitem()[1])

    def run_with_key(
        self,
        logger: logging.Logger,
        application: Application | None,
        provider: str,
        command: str,
        key: LoadableKey,
        run: Callable[[ESYS_TR], T],
    ) -> T:
        """`run(handle)`: one TPM command (`command` names it for M-4) on `key`, loaded. Call with `lock` held.

        A key kept loaded is used as it is; otherwise the least recently used kept key is flushed to make room, the
        key is loaded, and kept if the command succeeds (unless `sharing`). A command that fails on a fresh load
        flushes it; one that finds its fresh load gone (another client flushed it) loads the key again.
        `run` must let the `STALE_HANDLE_ERRORS` through, so that a handle lost to another client is noticed.
        """
        kept = self._kept.pop(key.key_id, None)
        if kept is not None:
            try:
                with self.hardware(logger, application, f"TPM2_{command}", provider):
                    result = run(kept)
            except TSS2_Exception as error:
                if error.error not in STALE_HANDLE_ERRORS:
                    self._kept[key.key_id] = kept  # the key is fine; the command failed (a bad digest, …)
                    raise
                self.esapi.tr_close(kept)  # not ours any more: forget the handle, never flush another's object
                log.warning("a key kept loaded in the TPM was flushed by another client; loading it again")
            except BaseException:
                self._kept[key.key_id] = kept  # `run` turned a TPM error into a status (a bad ciphertext, …)
                raise
            else:
                self._kept[key.key_id] = kept
                return result
        capacity = self._capacity()
        evicting = len(self._kept) - capacity + 1 if capacity else 0
        label = "TPM2_" + "FlushContext+" * (evicting > 0) + f"Load+{command}" + "+FlushContext" * (capacity == 0)
        with self.hardware(logger, application, label, provider):
            for _ in range(evicting):  # room first: the load needs a slot for the persistent storage key as well
                self._quietly_flush(self._kept.popitem(last=False)[1])
            for attempt in range(1, FRESH_ATTEMPTS + 1):
                handle = self.retrying(lambda: self.esapi.load(self.parent, key.private, key.public))
                try:
                    self.esapi.tr_set_auth(handle, key.auth)
                    result = run(handle)
                except TSS2_Exception as error:
                    if error.error in STALE_HANDLE_ERRORS and not self._holds(handle, key.name):
                        self.esapi.tr_close(handle)  # flushed by another client, or its slot holds another object
                        if attempt < FRESH_ATTEMPTS:
                            continue
                        raise
                    self._quietly_flush(handle)  # ours: the command failed on it (a tampered mapping's auth value, …)
                    raise
                except BaseException:
                    self._quietly_flush(handle)
                    raise
                if self._capacity():
                    self._kept[key.key_id] = handle
                else:
                    self._tolerant_flush(handle)
                return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _capacity(self) -> int:
        """How many keys stay loaded between commands: none with a transient storage key or a shared TPM."""
        return 0 if self.parent_is_transient or self.sharing else KEPT_LOADED

    def forget(self, key_id: bytes) -> None:
        """Flush the key if it is kept loaded (it is being destroyed). Call with `lock` held."""
        handle = self._kept.pop(key_id, None)
        if handle is not None:
            self._quietly_flush(handle)

    def run_with_public(self, key: LoadableKey, run: Callable[[ESYS_TR], T]) -> T:
        """`run(handle)` on `key`'s public part, loaded into the NULL hierarchy, then flushed. Call with `lock` held.

        A public key needs no auth value, so a command would not notice that another client flushed the object
        and loaded its own key into the slot in between: the object's name is read back after `run`, and an
        answer (result or TPM error) obtained with another key is dropped. The key is loaded again if it was lost
        (`FRESH_ATTEMPTS` in all).
        """
        for _ in range(FRESH_ATTEMPTS):
            handle = self.retrying(lambda: self.esapi.load_external(key.public))
            try:
                answer: Callable[[], T] = _returning(run(handle))
            except TSS2_Exception as error:
                answer = _raising(error)
            except BaseException:
                self._tolerant_flush(handle)
                raise
            if self._holds(handle, key.name):
                self._tolerant_flush(handle)
                return answer()
            self.esapi.tr_close(handle)  # gone, or another client's object now: neither trusted nor flushed
            log.warning("a public key loaded in the TPM was flushed by another client; loading it again")
        raise TSS2_Exception(TPM2_RC.REFERENCE_H0)  # another client took the key away at every attempt

    def _holds(self, handle: ESYS_TR, name: bytes) -> bool:
        """Whether the object at `handle` is the one named `name` (TPM2_ReadPublic)."""
        try:
            return bytes(self.esapi.read_public(handle)[1]) == name
        except TSS2_Exception as error:
            if error.error not in STALE_HANDLE_ERRORS:
                raise
            return False

    @contextmanager
    def loaded_public(self, public: TPM2B_PUBLIC) -> Iterator[ESYS_TR]:
        """Load a public key into the NULL hierarchy, yield its handle, flush it. Call with `lock` held."""
        handle = self.retrying(lambda: self.esapi.load_external(public))
        try:
            yield handle
        finally:
            self._tolerant_flush(handle)

    def _tolerant_flush(self, handle: ESYS_TR) -> None:
        """Flush an object this process loaded; one that another client flushed already is only forgotten."""
        try:
            self.esapi.flush_context(handle)
        except TSS2_Exception as error:
            if error.error not in STALE_HANDLE_ERRORS:
                raise
            self.esapi.tr_close(handle)
