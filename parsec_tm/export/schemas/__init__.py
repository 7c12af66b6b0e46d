"""Package data: the published JSON schemas of OTM 0.2.0, Threat Dragon v2 and SARIF 2.1.0 (see SOURCES.md)."""
