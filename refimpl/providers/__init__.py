"""Providers: the back ends that hold keys and run operations (see base.py)."""
