"""Properties of the service model: the invariants, their Z3 proofs, and what each seed mitigation protects.

- `properties.invariants`: tenant isolation, private-key confidentiality, mapping integrity, DeleteClient exactness,
  admin-only admin operations, reload keeping keys, distinct keys under distinct tenants — each as a Z3 formula and
  as a Python predicate, with the lemmas that make it inductive;
- `properties.induction`: the inductive proofs over unbounded sorts, in both deployment variants;
- `properties.explore`, `properties.bmc`: bounded model checking, explicit-state on `model.step` and by Z3 unrolling
  on the twin, and the Z3 confirmation of a run;
- `properties.mutations`: the verdict for removing each mitigation M-0…M-7, O-0…O-10;
- `properties.prove`: `run_all`, the entry point of ``parsec-tm prove`` and ``parsec-tm check``.
"""
