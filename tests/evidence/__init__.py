"""Tests of the evidence per threat row (parsec_tm.evidence), the pytest plugin and `parsec-tm evidence`."""
