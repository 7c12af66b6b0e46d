"""Tests that give threat rows without other executable evidence their own: each file names the rows it shows."""
