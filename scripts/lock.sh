#!/usr/bin/env bash
# Refreshes requirements.lock: the exact versions, with their hashes, that scripts/setup.sh installs into .venv.
# pyproject.toml keeps the version ranges (for people who install parsec-tm into their own environment); the lock
# is what this project's set-up, CI and benchmarks run on. Pins already in the lock are kept where they still satisfy
# pyproject.toml; `bash scripts/lock.sh --upgrade` moves every package to its newest allowed release.
# tests/test_lock.py checks that the lock agrees with pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=".venv/bin/uv"
[ -x "$UV" ] || UV="uv"
exec "$UV" pip compile pyproject.toml --all-extras --universal --python-version 3.11 --generate-hashes \
  --custom-compile-command "bash scripts/lock.sh" --output-file requirements.lock "$@"
