"""Tests of the `dataflow` package: the seed as data, the dataflow graph, checks, queries, report."""
