"""Tests of the `model` package: the concrete transitions against Parsec's behaviour, and the Z3 twin against them."""
