#!/usr/bin/env bash
# Installs everything parsec-tm needs on a fresh Debian 12 machine: the system packages behind the real providers
# (SoftHSM2, swtpm, the TPM2 TSS libraries and headers) and a virtualenv at .venv with the project in it.
# Idempotent: a second run only checks what is there.  Run as root (apt-get), or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  softhsm2                 # PKCS#11 token (libsofthsm2.so, softhsm2-util)
  swtpm swtpm-tools        # TPM 2.0 simulator
  libtss2-dev tpm2-tools   # TSS 2.0 libraries and headers (tpm2-pytss builds against them), tpm2_* tools
  pkg-config libffi-dev gcc
  python3-venv python3-dev # the venv module and headers for Debian's python3
  passwd util-linux        # useradd/groupadd and setpriv, for the tests that need real Unix users
  redis-server             # a real Redis for the fuzzer's shared example database (parsec-tm fuzz --database redis://…)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# Exact versions with their hashes from requirements.lock (refresh it with scripts/lock.sh), nothing unlocked
# (--no-deps), then the project itself, built offline by the locked setuptools.
echo "setup: installing the locked dependencies (requirements.lock) into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
echo "setup: installing parsec-tm into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
.venv/bin/python -m pip check --disable-pip-version-check >/dev/null \
  || { .venv/bin/python -m pip check; echo "setup: requirements.lock does not satisfy pyproject.toml: run bash scripts/lock.sh" >&2; exit 1; }
echo "setup: done. The command line is .venv/bin/parsec-tm"
