"""Tests of the identity provider (SPIFFE Workload API server), the JwtSvid authenticator and the client's token."""
