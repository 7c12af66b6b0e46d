"""Tests of the `properties` package: the invariants' proofs, the mutation verdicts, the `prove` command."""
