"""Threat rows that cannot have executable evidence, each with the reason, as data.

A row that names an M- mitigation should be backed by a proof, a counterexample, a test or a fuzz property. Where
the project cannot write one, the reason is declared here, keyed by the catalogue's threat ID, and shown wherever
the row misses the goal.
"""

from __future__ import annotations

from collections.abc import Mapping

NO_EXECUTABLE_EVIDENCE: Mapping[str, str] = {}
