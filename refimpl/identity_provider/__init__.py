"""The Identity Provider of the seed's dataflow diagram: a SPIFFE Workload API server (JWT-SVIDs) for tests and demos.

`server.WorkloadApiServer` serves it on a Unix socket; `workloads` says which callers get which SPIFFE IDs; `keys`
holds the signing keys and their rotation; `relay` recovers the callers' Unix credentials for gRPC. The Parsec
service reaches it only through the Workload API (refimpl.authenticators.jwt_svid), as it would reach SPIRE.
"""
