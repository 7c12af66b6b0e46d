"""Exports of the Parsec threat model to the formats threat-modelling tools read.

`otm`: Open Threat Model 0.2.0 (IriusRisk's open format), with an importer back to a catalogue; `threat_dragon`: an
OWASP Threat Dragon v2 model. The published JSON schemas of both formats ship in ``schemas/`` (sources in
``schemas/SOURCES.md``) and `schema` loads them, so a test validates every export against the format's own schema.
"""
