"""parsec-tm test suite."""
