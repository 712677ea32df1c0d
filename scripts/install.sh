#!/usr/bin/env bash
# Install or upgrade serverops with Helm into the current kubectl context, and wait
# until the operator's Deployment has rolled out.
#
# Usage: scripts/install.sh [-f VALUES_FILE]... [--set KEY=VALUE]...
# Every argument goes to `helm upgrade --install`. Environment:
#   RELEASE    release name (default: serverops)
#   NAMESPACE  namespace, created when missing (default: serverops-system)
#   IMAGE      image as REPOSITORY:TAG (default: serverops:<version in pyproject.toml>,
#              as scripts/build-and-load.sh builds it)
#   TIMEOUT    how long to wait for the rollout (default: 180s)
# Needs: helm 3.14 or newer (or helm 4) and kubectl.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
release="${RELEASE:-serverops}"
namespace="${NAMESPACE:-serverops-system}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/pyproject.toml")"
image="${IMAGE:-serverops:$version}"
timeout="${TIMEOUT:-180s}"

# The image was loaded into the nodes, so IfNotPresent never pulls it.
helm upgrade --install "$release" "$root/charts/serverops" \
    --namespace "$namespace" --create-namespace \
    --set "image.repository=${image%:*}" \
    --set "image.tag=${image##*:}" \
    --set image.pullPolicy=IfNotPresent \
    "$@"

# The name the chart gives the Deployment: the release name, with "-serverops" unless
# the release name already contains it.
deployment="$release"
if [[ "$release" != *serverops* ]]; then
    deployment="$release-serverops"
fi
kubectl --namespace "$namespace" rollout status "deployment/$deployment" --timeout "$timeout"
