#!/usr/bin/env bash
# Every test, as CI runs it: type-check, jest (constructs, stacks, cdk-nag), synth of every environment with
# cdk-nag, cfn-lint and checkov over every template, ruff and pytest for training/. Installs what is
# missing first (scripts/bootstrap.sh), so it works on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

step() { printf '\n=== %s\n' "$*"; }

step "tsc --noEmit"
npx tsc --noEmit -p .

step "jest"
npx jest --ci

out=$(mktemp -d "${TMPDIR:-/tmp}/fmft-synth.XXXXXX")
trap 'rm -rf "$out"' EXIT
for env in $(npx tsx scripts/list-environments.ts); do
  step "cdk synth -c env=$env (fails on any cdk-nag finding)"
  npx cdk synth --quiet -c env="$env" -o "$out/$env"
done
# No environment serves a model until one is approved: synthesize prod with two fixture variants so the
# scanners see the endpoints stack too.
step "cdk synth -c env=prod with the serving fixture (endpoints stack)"
npx cdk synth --quiet -c env=prod -c serving=test/fixtures/serving.json -o "$out/prod-serving"
mapfile -t templates < <(find "$out" -name '*.template.json' | sort)
echo "templates: ${#templates[@]}"

step "cfn-lint (errors fail)"
.venv-tools/bin/cfn-lint --non-zero-exit-code error -- "${templates[@]}"

step "checkov over templates and the job image Dockerfile (any failed check fails)"
.venv-tools/bin/checkov --quiet --compact --framework cloudformation dockerfile --skip-download -d "$out"

step "ruff"
.venv/bin/ruff check training bench
.venv/bin/ruff format --check training bench

step "pytest"
.venv/bin/pytest training/tests -q
