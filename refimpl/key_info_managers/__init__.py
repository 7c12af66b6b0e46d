"""Key Info Managers: persistent key-name mappings (see base.py)."""
