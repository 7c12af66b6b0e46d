"""Unit tests of the PSA policy and format modules the providers share."""
