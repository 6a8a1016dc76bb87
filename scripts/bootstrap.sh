#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine, and nothing when it is already in place:
# node_modules (npm ci), .venv (training code: torch, transformers, pytest, ruff) and .venv-tools
# (cfn-lint, checkov); it checks that Java and Maven are there for the Java client. Each is reinstalled only
# when its lock or requirements files change.
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

# The Java client builds with Maven (its dependencies come from Maven Central on the first build, ~55 MB).
if ! command -v mvn >/dev/null || ! java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'; then
  echo "bootstrap: Java 17 or newer and Maven are required for clients/java (install them, e.g. apt-get install openjdk-17-jdk-headless maven)" >&2
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
