#!/usr/bin/env bash
# Build the operator image from the repository's Dockerfile and load it into a kind
# cluster's nodes, so that the chart can use it without a registry.
#
# Usage: scripts/build-and-load.sh [CLUSTER_NAME] [IMAGE]
#        (defaults: serverops and serverops:<version in pyproject.toml>)
# Needs: docker and kind.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster="${1:-serverops}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/pyproject.toml")"
image="${2:-serverops:$version}"

docker build --tag "$image" "$root"
kind load docker-image "$image" --name "$cluster"
echo "Loaded $image into kind cluster $cluster."
