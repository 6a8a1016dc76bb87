#!/usr/bin/env bash
# Log Docker in to the AWS Deep Learning Containers registry of a region, so `cdk deploy` can build the
# job image (training/Dockerfile) FROM the region's Hugging Face DLC.
# Usage: scripts/dlc-login.sh [region]   (default: $AWS_REGION, else the CLI's configured region)
set -euo pipefail
cd "$(dirname "$0")/.."
region="${1:-${AWS_REGION:-$(aws configure get region || true)}}"
if [[ -z "$region" ]]; then
  echo "region: not given; pass it as the first argument or set AWS_REGION" >&2
  exit 2
fi
registry="$(node -e '
  const t = require("./lib/config/container-images.json");
  const r = t.registries[process.argv[1]];
  if (!r) { console.error(`region: got "${process.argv[1]}"; allowed: ${Object.keys(t.registries).join(", ")}`); process.exit(2); }
  console.log(`${r}.dkr.ecr.${process.argv[1]}.amazonaws.com`);
' "$region")"
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
