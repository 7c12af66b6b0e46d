"""Tests of the notebooks as people open them: rendered to HTML, and the helpers they use (parsec_tm.jupyter)."""
