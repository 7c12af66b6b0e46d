#!/usr/bin/env bash
# Runs the whole test suite: unit, end-to-end (real sockets, SoftHSM2, swtpm, Unix users), stateful campaigns,
# the notebooks (nbmake), and the ruff/mypy gates. Extra arguments go to pytest (e.g. -k sqlite, -x).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "test: .venv is missing; run scripts/setup.sh first (the README's first command)" >&2
  exit 2
fi
export PARSEC_TM_SHARED="${PARSEC_TM_SHARED:-$(cd .. && pwd)/shared}"
# One worker per core; a module's tests stay on one worker so its module-scoped service starts once. Each test's
# threat IDs and outcome go to build/threat-results.json, the evidence `parsec-tm evidence --results` reads.
mkdir -p build
exec .venv/bin/python -m pytest -n "${PARSEC_TM_WORKERS:-auto}" --dist loadfile \
  --threat-results build/threat-results.json "$@"
