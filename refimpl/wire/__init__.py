"""Parsec wire protocol 1.0: the header and framing, the .proto contracts, and the body codec (facts §1, §3)."""
