"""The reference Parsec service, wire-compatible with protocol 1.0. One package per box of the dataflow diagram."""
