#!/usr/bin/env bash
# Log Docker in to the AWS Deep Learning Containers registry of a region, so `cdk deploy` can build the
# job image (training/Dockerfile) FROM the region's Hugging Face DLC.
# Usage: scripts/dlc-login.sh [region]   (default: $AWS_REGION, else the CLI's configured region)
set -euo pipefail
cd "$(dirname "$0")/.."

# The regions with a DLC registry: the one table, lib/config/container-images.json.
regions() { node -e 'console.log(Object.keys(require("./lib/config/container-images.json").registries).join(", "))'; }

usage() {
  cat <<EOF
usage: scripts/dlc-login.sh [region]

Logs Docker in to the AWS Deep Learning Containers registry of <region>, so that \`cdk deploy\` can build
the job image from the region's Hugging Face training DLC. Needs the AWS CLI and Docker.

  region      default: \$AWS_REGION, else the AWS CLI's configured region
  -h, --help  show this help

Regions (lib/config/container-images.json): $(regions)
EOF
}

case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
  -*)
    echo "unknown option \"$1\"; allowed: -h, --help (the region is given without an option)" >&2
    exit 2
    ;;
esac
if [[ $# -gt 1 ]]; then
  echo "too many arguments: got $#; allowed: one region (scripts/dlc-login.sh --help)" >&2
  exit 2
fi

region="${1:-${AWS_REGION:-$(aws configure get region 2>/dev/null || true)}}"
if [[ -z "$region" ]]; then
  echo "region: not given; pass it as the first argument or set AWS_REGION" >&2
  exit 2
fi
# The region goes in through the environment: as an argument, node would read `--help` and the like as its own.
registry="$(DLC_REGION="$region" node -e '
  const t = require("./lib/config/container-images.json");
  const region = process.env.DLC_REGION;
  const r = Object.prototype.hasOwnProperty.call(t.registries, region) ? t.registries[region] : undefined;
  if (!r) { console.error(`region: got ${JSON.stringify(region)}; allowed: ${Object.keys(t.registries).join(", ")}`); process.exit(2); }
  console.log(`${r}.dkr.ecr.${region}.amazonaws.com`);
')" || exit $?
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
