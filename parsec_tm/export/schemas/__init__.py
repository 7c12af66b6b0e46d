"""Package data: the published JSON schemas of Open Threat Model 0.2.0 and Threat Dragon v2 (see SOURCES.md)."""
