#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine, and nothing when it is already in place:
# node_modules (npm ci), .venv (training code: torch, transformers, pytest, ruff) and .venv-tools
# (cfn-lint, checkov). Each is reinstalled only when its lock or requirements files change.
set -euo pipefail
cd "$(dirname "$0")/.."

fingerprint() { cat "$@" | sha256sum | cut -c1-16; }

want=$(fingerprint package-lock.json)
if [ "$(cat node_modules/.fingerprint 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing node modules"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.fingerprint
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))'; then
  echo "bootstrap: Python 3.11 or newer is required (set PYTHON=...)" >&2
  exit 1
fi

# venv DIR REQUIREMENTS... : (re)creates DIR from the pinned requirements when they changed.
venv() {
  local dir=$1; shift
  local want
  want=$(fingerprint "$@")
  if [ "$(cat "$dir/.fingerprint" 2>/dev/null)" != "$want" ]; then
    echo "bootstrap: installing $dir from $*"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    local args=()
    for r in "$@"; do args+=(-r "$r"); done
    "$dir/bin/pip" install --quiet --disable-pip-version-check "${args[@]}"
    echo "$want" > "$dir/.fingerprint"
  fi
}
venv .venv training/requirements.txt training/requirements-dev.txt
venv .venv-tools tools/requirements.txt
