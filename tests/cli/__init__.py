"""Tests of the `parsec-tm` command line as a whole: what starting it imports and writes."""
