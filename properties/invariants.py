"""The security invariants of the service model, each written twice over the same vocabulary: as a Z3 formula over
`model.symbolic` states and effects (for proofs and bounded model checking), and as a Python predicate over
`model.step` states and outcomes (for the stateful tests and for replaying counterexamples).

A *state* invariant constrains every reachable state; a *step* invariant constrains every transition from a
reachable state. Each invariant names the lemmas (`LEMMAS`) that strengthen it into an inductive invariant.

Seed concepts: tenant isolation and private-key confidentiality protect AS3 (private keys) against A1/A2/A4–A7;
mapping integrity protects AS7 (key triple mappings); admin operations and reload protect AS5/AS6.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import z3

from model.nouns import CREDENTIAL_VARIANTS, VARIANT_AUTHENTICATOR, KeyIdentity, Lifecycle, Tenant, Usage, VariantName
from model.state import State
from model.step import Outcome
from model.symbolic import ENUMS as E
from model.symbolic import Expr, SymEffects, SymState, Universe

StateFormula = Callable[[Universe, SymState], Expr]
StepFormula = Callable[[Universe, SymState, SymEffects, SymState], Expr]


@dataclass(frozen=True)
class Lemma:
    """A strengthening conjunct: true initially and preserved by every transition (together with its siblings)."""

    id: str
    statement: str
    formula: Callable[[Universe, SymState, VariantName], Expr]


@dataclass(frozen=True)
class Invariant:
    """A property of the model with its symbolic and concrete forms."""

    id: str
    statement: str
    lemmas: tuple[str, ...]
    idp_lemmas: tuple[str, ...] = ()
    state_formula: StateFormula | None = None
    step_formula: StepFormula | None = None
    holds_in_state: Callable[[State], bool] | None = None
    holds_for_step: Callable[[State, Outcome, State], bool] | None = None

    def __post_init__(self) -> None:
        if self.holds_in_state is None and self.holds_for_step is None:
            raise ValueError(
                f"invariant {self.id!r} has no concrete form: give holds_in_state (a predicate on a State) or "
                "holds_for_step (on pre-state, Outcome, post-state), so that counterexamples can be replayed"
            )
        if (self.holds_in_state is None) != (self.state_formula is None) and self.has_z3_form:
            raise ValueError(
                f"invariant {self.id!r}: its Z3 form and its concrete form must be of the same kind (state_formula "
                "with holds_in_state, step_formula with holds_for_step)"
            )
        unknown = [name for name in (*self.lemmas, *self.idp_lemmas) if name not in LEMMAS]
        if unknown:
            raise ValueError(f"invariant {self.id!r} names unknown lemmas: {', '.join(unknown)}")

    @property
    def has_z3_form(self) -> bool:
        """Whether the invariant can be proved: without a Z3 formula only its concrete form can be checked."""
        return self.state_formula is not None or self.step_formula is not None

    def lemmas_for(self, variant: VariantName) -> tuple[str, ...]:
        """The strengthening in `variant`: the identity lemmas matter only where credentials can be obtained."""
        return self.lemmas + (self.idp_lemmas if variant in CREDENTIAL_VARIANTS else ())


# ------------------------------------------------------------------------------------------------------------ lemmas
def _running(s: SymState) -> Expr:
    return s.lifecycle == E.lifecycle[Lifecycle.RUNNING]


def _ownership(u: Universe, s: SymState, variant: VariantName) -> Expr:
    def owned(t: Expr, n: Expr) -> Expr:
        h = s.key_handle[t, n]
        return z3.Implies(s.mapped[t, n], z3.And(s.allocated[u.local_of(h)], s.owner[h] == t, s.origin[h] == n))

    return z3.And(
        u.forall([u.Tenant, u.Name], owned),
        u.forall([u.Handle], lambda h: z3.Implies(s.stored[h], s.allocated[u.local_of(h)])),
    )


def _no_dangling(u: Universe, s: SymState, variant: VariantName) -> Expr:
    def resolves(t: Expr, n: Expr) -> Expr:
        h = s.key_handle[t, n]
        return z3.Implies(s.mapped[t, n], z3.And(s.stored[h], u.provider_of(h) == s.key_provider[t, n]))

    return u.forall([u.Tenant, u.Name], resolves)


def _provenance(u: Universe, s: SymState, variant: VariantName) -> Expr:
    def provenance(h: Expr) -> Expr:
        owner, origin = s.owner[h], s.origin[h]
        named = z3.And(s.mapped[owner, origin], s.key_handle[owner, origin] == h)
        return z3.Implies(s.stored[h], z3.And(s.active.providers[u.provider_of(h)], z3.Implies(_running(s), named)))

    return u.forall([u.Handle], provenance)


def _identities(u: Universe, s: SymState, variant: VariantName) -> Expr:
    held = u.forall([u.Tenant, u.Tenant], lambda p, t: z3.Implies(s.tokens[p, t], p == t))
    if VARIANT_AUTHENTICATOR[variant] != "jwt-svid":
        return held  # a forged trust bundle matters only to an authenticator that checks tokens against it
    return z3.And(held, u.forall([u.Tenant], lambda p: z3.Not(s.forgers[p])))


def _authenticator(u: Universe, s: SymState, variant: VariantName) -> Expr:
    configured = E.auth[VARIANT_AUTHENTICATOR[variant]]
    return z3.And(
        s.active.authenticator == configured,
        s.file.authenticator == configured,
        s.intended.authenticator == configured,
    )


def _admins(u: Universe, s: SymState, variant: VariantName) -> Expr:
    return z3.And(s.active.admins.equals(s.intended.admins), s.file.admins.equals(s.intended.admins))


def _providers(u: Universe, s: SymState, variant: VariantName) -> Expr:
    return z3.And(s.active.providers.equals(s.intended.providers), s.file.providers.equals(s.intended.providers))


def _no_rogue(u: Universe, s: SymState, variant: VariantName) -> Expr:
    return u.forall([E.Provider], lambda p: z3.And(z3.Not(s.active.rogue[p]), z3.Not(s.file.rogue[p])))


LEMMAS: dict[str, Lemma] = {
    lemma.id: lemma
    for lemma in (
        Lemma(
            "key-ownership",
            "every mapping names an allocated key ID whose key was created for that tenant under that key name; "
            "every stored key has an allocated ID",
            _ownership,
        ),
        Lemma("no-dangling", "every mapping names a stored key of the provider it records", _no_dangling),
        Lemma(
            "key-provenance",
            "every stored key is in a configured provider and, while the service runs, named by the mapping it was "
            "created for",
            _provenance,
        ),
        Lemma(
            "identities-intact",
            "nobody holds another tenant's credential (token, Unix account); where tokens are checked against a trust "
            "bundle, it accepts no forger",
            _identities,
        ),
        Lemma(
            "authenticator-intact",
            "the configuration file and the configuration in force name the deployment's authenticator",
            _authenticator,
        ),
        Lemma("admins-intact", "the file and the configuration in force list the administrator's admins", _admins),
        Lemma(
            "providers-intact", "the file and the configuration in force list the administrator's providers", _providers
        ),
        Lemma("no-rogue-provider", "no configured provider is backed by a malicious module", _no_rogue),
    )
}


# -------------------------------------------------------------------------------------------------- tenant isolation
def _isolation_formula(u: Universe, pre: SymState, effects: SymEffects, post: SymState) -> Expr:
    actor = effects.actor
    return z3.And(
        z3.Implies(effects.namespace.present, z3.And(actor.present, effects.namespace.value == actor.value)),
        u.forall(
            [u.Handle], lambda h: z3.Implies(effects.touched[h], z3.And(actor.present, pre.owner[h] == actor.value))
        ),
    )


def _isolation_holds(pre: State, outcome: Outcome, post: State) -> bool:
    effects = outcome.effects
    if effects.namespace is not None and effects.namespace != effects.actor:
        return False
    return all(pre.provider_keys[h].owner == effects.actor for h in effects.touched)


# ---------------------------------------------------------------------------------------------------- confidentiality
def _confidentiality_formula(u: Universe, pre: SymState, effects: SymEffects, post: SymState) -> Expr:
    return z3.And(
        [
            z3.Implies(
                release.condition,
                z3.And(
                    z3.BoolVal(release.via_export_key),
                    release.recipient.present,
                    release.recipient.value == pre.owner[release.handle],
                    E.may(pre.attrs[release.handle], Usage.EXPORT),
                ),
            )
            for release in effects.releases
        ]
    )


def _confidentiality_holds(pre: State, outcome: Outcome, post: State) -> bool:
    for release in outcome.effects.releases:
        if not release.via_export_key or release.recipient is None:
            return False
        key = pre.provider_keys[release.handle]
        if not (release.recipient == key.owner and key.attributes.exportable):
            return False
    return True


# --------------------------------------------------------------------------------------------------- mapping integrity
def _integrity_formula(u: Universe, s: SymState) -> Expr:
    def resolves(t: Expr, n: Expr) -> Expr:
        kh, kp = s.key_handle[t, n], s.key_provider[t, n]
        return z3.Implies(s.mapped[t, n], z3.And(s.stored[kh], u.provider_of(kh) == kp))

    def referenced(h: Expr) -> Expr:
        return u.exists(
            [u.Tenant, u.Name],
            lambda t, n: z3.And(s.mapped[t, n], s.key_handle[t, n] == h, s.key_provider[t, n] == u.provider_of(h)),
        )

    no_dangling = u.forall([u.Tenant, u.Name], resolves)
    no_orphan = u.forall([u.Handle], lambda h: z3.Implies(s.stored[h], referenced(h)))
    return z3.And(no_dangling, z3.Implies(_running(s), no_orphan))


def _integrity_holds(state: State) -> bool:
    def resolves(handle_provider: object, provider: object, handle: object) -> bool:
        return handle_provider is provider and handle in state.provider_keys

    if not all(resolves(e.handle.provider, e.provider, e.handle) for e in state.mappings.values()):
        return False
    if state.lifecycle is not Lifecycle.RUNNING:
        return True
    referenced = {e.handle for e in state.mappings.values() if e.handle.provider is e.provider}
    return all(handle in referenced for handle in state.provider_keys)


# ------------------------------------------------------------------------------------------------------ delete client
def _delete_client_formula(u: Universe, pre: SymState, effects: SymEffects, post: SymState) -> Expr:
    target = effects.deleted_client.value

    def kept(t: Expr, n: Expr) -> Expr:
        kh, kp = pre.key_handle[t, n], pre.key_provider[t, n]
        unchanged = z3.And(
            post.mapped[t, n],
            post.key_handle[t, n] == kh,
            post.key_provider[t, n] == kp,
            z3.Implies(pre.stored[kh], post.stored[kh]),
        )
        return z3.Implies(z3.And(t != target, pre.mapped[t, n]), unchanged)

    def emptied(n: Expr) -> Expr:
        kh, kp = pre.key_handle[target, n], pre.key_provider[target, n]
        configured = z3.And(pre.mapped[target, n], pre.active.providers[kp])
        gone = z3.And(z3.Not(post.mapped[target, n]), z3.Implies(u.provider_of(kh) == kp, z3.Not(post.stored[kh])))
        return z3.Implies(configured, gone)

    others_kept = u.forall([u.Tenant, u.Name], kept)
    target_emptied = u.forall([u.Name], emptied)
    return z3.Implies(effects.deleted_client.present, z3.And(others_kept, target_emptied))


def _delete_client_holds(pre: State, outcome: Outcome, post: State) -> bool:
    target = outcome.effects.deleted_client
    if target is None:
        return True
    for identity, entry in pre.mappings.items():
        if identity.tenant != target:
            if post.entry(identity) != entry:
                return False
            if entry.handle in pre.provider_keys and entry.handle not in post.provider_keys:
                return False
        elif entry.provider in pre.active.providers:
            if identity in post.mappings:
                return False
            if entry.handle.provider is entry.provider and entry.handle in post.provider_keys:
                return False
    return True


# ----------------------------------------------------------------------------------------------------- admin only
def _admin_formula(u: Universe, pre: SymState, effects: SymEffects, post: SymState) -> Expr:
    actor = effects.actor
    is_admin = z3.And(
        actor.present,
        u.auth_of(actor.value) == pre.intended.authenticator,
        pre.intended.admins[u.app_of(actor.value)],
    )
    return z3.Implies(effects.admin_op, is_admin)


def _admin_holds(pre: State, outcome: Outcome, post: State) -> bool:
    actor = outcome.effects.actor
    if not outcome.effects.admin_op:
        return True
    return actor is not None and actor.auth == pre.intended.authenticator and actor.name in pre.intended.admins


# ------------------------------------------------------------------------------------------------------------ reload
def _usable(u: Universe, s: SymState, t: Expr, n: Expr) -> Expr:
    kh, kp = s.key_handle[t, n], s.key_provider[t, n]
    return z3.And(
        s.mapped[t, n],
        u.provider_of(kh) == kp,
        s.stored[kh],
        s.active.providers[kp],
        u.auth_of(t) == s.active.authenticator,
    )


def _reload_formula(u: Universe, pre: SymState, effects: SymEffects, post: SymState) -> Expr:
    def kept(t: Expr, n: Expr) -> Expr:
        same = z3.And(
            _usable(u, post, t, n),
            post.key_handle[t, n] == pre.key_handle[t, n],
            post.key_provider[t, n] == pre.key_provider[t, n],
        )
        return z3.Implies(_usable(u, pre, t, n), same)

    return z3.Implies(effects.reconfigured, u.forall([u.Tenant, u.Name], kept))


def _usable_keys(state: State) -> dict[KeyIdentity, object]:
    return {
        identity: entry
        for identity, entry in state.mappings.items()
        if entry.handle.provider is entry.provider
        and entry.handle in state.provider_keys
        and entry.provider in state.active.providers
        and identity.tenant.auth == state.active.authenticator
    }


def _reload_holds(pre: State, outcome: Outcome, post: State) -> bool:
    if not outcome.effects.reconfigured:
        return True
    after = _usable_keys(post)
    return all(after.get(identity) == entry for identity, entry in _usable_keys(pre).items())


# ------------------------------------------------------------------------------------------------- distinct tenants
def _distinct_formula(u: Universe, s: SymState) -> Expr:
    def distinct(t1: Expr, t2: Expr, n: Expr) -> Expr:
        both = z3.And(t1 != t2, s.mapped[t1, n], s.mapped[t2, n])
        return z3.Implies(both, s.key_handle[t1, n] != s.key_handle[t2, n])

    return u.forall([u.Tenant, u.Tenant, u.Name], distinct)


def _distinct_holds(state: State) -> bool:
    owners: dict[tuple[str, object], Tenant] = {}
    for identity, entry in state.mappings.items():
        seen = owners.setdefault((identity.key_name.value, entry.handle), identity.tenant)
        if seen != identity.tenant:
            return False
    return True


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "tenant-isolation",
        "no request by one tenant reads, uses, exports, lists or destroys another tenant's key: a request acts only "
        "in its sender's namespace and touches only keys created for its sender",
        ("key-ownership",),
        ("identities-intact", "authenticator-intact"),
        step_formula=_isolation_formula,
        holds_for_step=_isolation_holds,
    ),
    Invariant(
        "private-key-confidentiality",
        "private key material leaves a provider only through ExportKey, to the key's owner, with the export flag",
        ("key-ownership", "no-rogue-provider"),
        ("identities-intact", "authenticator-intact"),
        step_formula=_confidentiality_formula,
        holds_for_step=_confidentiality_holds,
    ),
    Invariant(
        "mapping-integrity",
        "no mapping dangles; while the service runs, no provider key is orphaned (through crash and restart)",
        ("key-ownership", "no-dangling", "key-provenance", "providers-intact"),
        state_formula=_integrity_formula,
        holds_in_state=_integrity_holds,
    ),
    Invariant(
        "delete-client-exact",
        "DeleteClient destroys every key of that client in the configured providers and no other key",
        ("key-ownership",),
        step_formula=_delete_client_formula,
        holds_for_step=_delete_client_holds,
    ),
    Invariant(
        "admin-only-by-admins",
        "an admin operation passes the admin check only when sent by an administrator the trusted admin configured",
        ("authenticator-intact", "admins-intact"),
        ("identities-intact",),
        step_formula=_admin_formula,
        holds_for_step=_admin_holds,
    ),
    Invariant(
        "reload-keeps-keys",
        "re-reading the configuration (SIGHUP, restart) keeps every usable key usable, under the same handle",
        ("authenticator-intact", "providers-intact"),
        step_formula=_reload_formula,
        holds_for_step=_reload_holds,
    ),
    Invariant(
        "distinct-tenants-distinct-keys",
        "the same key name under two tenants names two different keys",
        ("key-ownership",),
        state_formula=_distinct_formula,
        holds_in_state=_distinct_holds,
    ),
)


def invariant(invariant_id: str) -> Invariant:
    """The invariant with this ID."""
    for candidate in INVARIANTS:
        if candidate.id == invariant_id:
            return candidate
    raise KeyError(invariant_id)


def violated_by(pre: State, outcome: Outcome, post: State, also: tuple[Invariant, ...] = ()) -> tuple[str, ...]:
    """IDs of the invariants (`INVARIANTS` and `also`) a concrete step breaks (state invariants on `post`)."""
    broken = []
    for inv in (*INVARIANTS, *(a for a in also if a not in INVARIANTS)):
        if (inv.holds_in_state is not None and not inv.holds_in_state(post)) or (
            inv.holds_for_step is not None and not inv.holds_for_step(pre, outcome, post)
        ):
            broken.append(inv.id)
    return tuple(broken)
