"""Provider tests: one set of bodies run against every provider kind (see conftest.py)."""
