"""Native PSA Crypto types (see types.py)."""
