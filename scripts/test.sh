#!/usr/bin/env bash
# Every test, as CI runs it. Installs what is missing first (scripts/bootstrap.sh), so it works on a fresh clone.
#
#   tsc --noEmit | cdk synth of every environment (cdk-nag: synth fails on any finding) | jest (constructs,
#   stacks, compliance, the README's CDK commands through the real CLI) | cfn-lint, checkov and the API-model
#   check over the synthesized templates | ruff and pytest (training/, tools/, the Python client) | the Java
#   client's Maven build and tests (the TypeScript client's tests run in jest)
#
# Each environment is synthesized once; the scanners and the CLI tests read those same templates
# (FMFT_SYNTH_DIR). Independent steps run side by side; each step's output is printed when it ends, with
# its time, and the script fails when any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/fmft-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
export FMFT_SYNTH_DIR="$work/synth"
export CDK_DISABLE_VERSION_CHECK=1
began=$SECONDS
declare -A pid
failed=()
summary=()

# start [--background] NAME COMMAND...: runs COMMAND in the background, its output in $work/NAME.log.
# --background lowers its CPU priority, so the longest single chain (the slow pytest) is not starved.
start() {
  local nice=0
  if [ "$1" = --background ]; then nice=10; shift; fi
  local name=$1
  shift
  (
    renice -n "$nice" -p "$BASHPID" >/dev/null
    t0=$SECONDS
    rc=0
    "$@" >"$work/$name.log" 2>&1 || rc=$?
    # CPU seconds (user + system) of everything the step ran: `times` reports the waited-for children.
    times >"$work/$name.times" # not in a pipe: a subshell would report its own (empty) children
    cpu=$(tail -n 1 "$work/$name.times" | awk '{ split($1, u, "m"); split($2, s, "m"); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
    echo "$rc $((SECONDS - t0)) $cpu" >"$work/$name.result"
  ) &
  pid[$name]=$!
}

# finish NAME...: waits for each step, prints its output and time, and records a failure.
finish() {
  local name rc seconds cpu
  for name in "$@"; do
    wait "${pid[$name]}" || true
    read -r rc seconds cpu <"$work/$name.result"
    printf '\n=== %s (%ss, %s)\n' "$name" "$seconds" "$([ "$rc" = 0 ] && echo ok || echo "FAILED, exit $rc")"
    cat "$work/$name.log"
    summary+=("$(printf '%-22s %4ss  %4s CPU-s  %s' "$name" "$seconds" "$cpu" "$([ "$rc" = 0 ] && echo ok || echo FAILED)")")
    [ "$rc" = 0 ] || failed+=("$name")
  done
}

synth() { # synth NAME CDK-ARGS...
  local name=$1
  shift
  npx cdk synth --quiet "$@" -o "$FMFT_SYNTH_DIR/$name"
}

# Steps run in a `||` context, where `set -e` does not apply: every command says `|| return` itself.
# pytest runs in two processes, the tests marked slow (each starts torchrun or training subprocesses) and the
# rest, so both cores stay busy; every test is in exactly one of them.
python_checks() {
  .venv/bin/ruff check training bench tools clients/python || return
  .venv/bin/ruff format --check training bench tools clients/python || return
  .venv/bin/pytest training/tests tools/tests clients/python/tests -q -p no:cacheprovider -m 'not slow'
}

# cfn-lint, checkov and the API-model check over every synthesized template. Identical templates (prod's
# stacks that serving does not change) are scanned once: the same bytes give the same findings.
scan() {
  local -A seen=()
  local templates=() dockerfiles=() f h
  while IFS= read -r f; do
    h=$(sha256sum "$f" | cut -c1-64)
    [ -n "${seen[$h]:-}" ] || { seen[$h]=1; templates+=("$f"); }
  done < <(find "$FMFT_SYNTH_DIR" -name '*.template.json' | sort)
  while IFS= read -r f; do
    h=$(sha256sum "$f" | cut -c1-64)
    [ -n "${seen[$h]:-}" ] || { seen[$h]=1; dockerfiles+=("$f"); }
  done < <(find "$FMFT_SYNTH_DIR" -name Dockerfile | sort)
  echo "templates: $(find "$FMFT_SYNTH_DIR" -name '*.template.json' | wc -l) synthesized, ${#templates[@]} distinct; Dockerfiles: ${#dockerfiles[@]}"
  [ "${#templates[@]}" -gt 0 ] && [ "${#dockerfiles[@]}" -gt 0 ] || return 1

  echo "--- API-model check (botocore service models)"
  .venv/bin/python -m tools.api_model "$FMFT_SYNTH_DIR" || return
  echo "--- cfn-lint (errors fail)"
  .venv-tools/bin/cfn-lint --non-zero-exit-code error -- "${templates[@]}" || return
  echo "--- checkov over the templates and the job image Dockerfile (any failed check fails)"
  .venv-tools/bin/checkov --quiet --compact --framework cloudformation dockerfile --skip-download -f "${templates[@]}" "${dockerfiles[@]}"
}

# The slow tests are one long chain (torchrun and training subprocesses): started first, at full priority,
# while everything else shares what is left.
start pytest-slow .venv/bin/pytest training/tests tools/tests -q -p no:cacheprovider -m slow
# Incremental type-checking state lives with the installed modules (npm ci starts it afresh).
start --background tsc npx tsc --noEmit -p . --incremental --tsBuildInfoFile node_modules/.cache/fmft/tsconfig.tsbuildinfo
# The TypeScript client's own settings (its example imports the package by name).
start --background tsc-client npx tsc -p clients/typescript/test
# dev through the README's set-up command itself, so that command is checked by every run.
start synth-dev bash scripts/setup.sh "$FMFT_SYNTH_DIR/dev"
for env in $(npx tsx scripts/list-environments.ts); do
  [ "$env" = dev ] || start "synth-$env" synth "$env" -c env="$env"
done
# No environment serves a model until one is approved: prod is also synthesized with the two fixture
# variants, so the scanners and the tests see the endpoints stack too.
start synth-prod-serving synth prod-serving -c env=prod -c serving=test/fixtures/serving.json
# And prod's failover deployment (the same stacks in drRegion, on the replicas), so it is scanned like the rest.
start synth-prod-failover synth prod-failover -c env=prod -c failover=true
start --background python python_checks
# The Java client: its models generated from api/openapi.json, its tests against the local server.
start --background java mvn -B -ntp -T 1 -f clients/java/pom.xml test

finish tsc tsc-client
finish $(printf '%s\n' "${!pid[@]}" | grep '^synth-' | sort)
if [ "${#failed[@]}" -eq 0 ]; then
  start jest npx jest --ci --maxWorkers=2
  start scan scan
  finish scan jest
fi
finish python java pytest-slow

printf '\n=== summary (%ss in all)\n' "$((SECONDS - began))"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
