"""Campaigns at scale, in bounded slices for CI: the front-end fuzzer, crash consistency under kill -9, load."""
