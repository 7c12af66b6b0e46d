"""Tests of the client library and the parsec-tool-like verbs."""
