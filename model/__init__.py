"""The Parsec service as a state machine: one model, run concretely by the stateful tests and symbolically by Z3.

- `model.nouns`, `model.state`: tenants, keys as Parsec identifies them, key stores, mappings, configuration;
- `model.operations`: every request (core and PSA), lifecycle event and attacker capability of the seed (A1–A10;
  A11, memory residue, is outside the model's state) and of the 2024 revision's configurations (Unix accounts in
  DSPC, SPIFFE validation A12/A13 in JWTS);
- `model.parsec`: Parsec's status names and per-provider tables;
- `model.step`: `step(state, operation, mitigations) -> (state, Outcome)`, the concrete transitions (import it from
  `model.step`: re-exporting it here would hide the module behind the function);
- `model.transitions`: the registry binding each transition to the mitigation IDs that block it, in the seed's
  deployments (with-idp, no-idp) and in the revision's configurations (GNRC, DSPC, DRCT, JWTS);
- `model.symbolic`, `model.tables`, `model.codec`: the Z3 twin of every transition over arrays (proofs) or finite
  tables (bounded model checking), and the conversions between concrete and symbolic values;
- `model.agreement`: the check that holds the twin equal to `step` on every transition and every status it can
  return, in every deployment (systematic enumeration over small states, not sampling);
- `model.sampling`: random operations and walks over a small scope (the fuzzer's and the stateful tests' source).
"""

from model.nouns import (
    Config,
    Handle,
    KeyAttributes,
    KeyIdentity,
    KeyKind,
    KeyName,
    Lifecycle,
    ProviderId,
    Signal,
    Tenant,
    Usage,
)
from model.parsec import Status
from model.state import MappingEntry, ProviderKey, State, initial_state
from model.step import Effects, NotEnabled, Outcome, Release, enabled
from model.transitions import REGISTRY, seed_mitigations, transition

__all__ = [
    "REGISTRY",
    "Config",
    "Effects",
    "Handle",
    "KeyAttributes",
    "KeyIdentity",
    "KeyKind",
    "KeyName",
    "Lifecycle",
    "MappingEntry",
    "NotEnabled",
    "Outcome",
    "ProviderId",
    "ProviderKey",
    "Release",
    "Signal",
    "State",
    "Status",
    "Tenant",
    "Usage",
    "enabled",
    "initial_state",
    "seed_mitigations",
    "transition",
]
