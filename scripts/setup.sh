#!/usr/bin/env bash
# Fresh-machine set-up: installs everything (scripts/bootstrap.sh), then synthesizes every stack of the
# default environment (dev) with the five cdk-nag packs. Needs no AWS account.
#   bash scripts/setup.sh [OUTDIR]      (default cdk.out; scripts/test.sh passes its own folder)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-cdk.out}
bash scripts/bootstrap.sh
npx cdk synth --quiet -o "$out"
stacks=$(cd "$out" && ls -- *.template.json | sed 's/\.template\.json$//' | paste -sd' ')
echo "setup: synthesized $(wc -w <<<"$stacks") stacks of dev into $out: $stacks"
