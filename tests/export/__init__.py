"""Tests of the exports to Open Threat Model and OWASP Threat Dragon (parsec_tm.export)."""
