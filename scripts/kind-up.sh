#!/usr/bin/env bash
# Create a kind cluster for trying serverops on a real Kubernetes, with two worker nodes
# so that the operator's two replicas can spread across nodes.
#
# Usage: scripts/kind-up.sh [CLUSTER_NAME]     (default: serverops)
# Needs: kind and a running Docker engine. KIND_NODE_IMAGE picks the node image, for
# example kindest/node:v1.32.2; kind's default is used when it is unset.
set -euo pipefail

cluster="${1:-serverops}"

if kind get clusters | grep -qx "$cluster"; then
    echo "kind cluster $cluster exists already; using it."
    exit 0
fi

config="$(mktemp)"
trap 'rm -f "$config"' EXIT
cat >"$config" <<'YAML'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
  - role: worker
YAML

image_args=()
if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
    image_args=(--image "$KIND_NODE_IMAGE")
fi

kind create cluster --name "$cluster" --config "$config" --wait 120s "${image_args[@]}"
kubectl cluster-info --context "kind-$cluster"
