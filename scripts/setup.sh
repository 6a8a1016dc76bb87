#!/usr/bin/env bash
# Fresh-machine set-up: installs everything (scripts/bootstrap.sh), then synthesizes every stack of the
# default environment (dev) into cdk.out with the five cdk-nag packs. Needs no AWS account.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npx cdk synth --quiet
echo "setup: synthesized $(ls cdk.out/assembly-dev/*.template.json | wc -l) stacks of dev into cdk.out/assembly-dev"
