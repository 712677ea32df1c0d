#!/usr/bin/env bash
# Test serverops on a real cluster: the cluster the current KUBECONFIG points at, with
# serverops installed by scripts/install.sh (for example into a cluster made by
# scripts/kind-up.sh and an image from scripts/build-and-load.sh).
#
#   1. the contract tests compare the local API server with this cluster
#      (tests/contract, whose "real" cases run only when KUBECONFIG is set);
#   2. a smoke test of the deletion contract in a namespace of its own: a server's
#      created ports are deleted with it and its attached port is detached and kept;
#   3. the uninstall guard: helm uninstall must fail while a Server still carries the
#      operator's finalizer, and leave the release installed.
#
# Usage: KUBECONFIG=~/.kube/config scripts/e2e-real.sh [PYTEST_ARGS]...
# Environment: RELEASE and NAMESPACE of the Helm release (defaults: serverops and
# serverops-system); SKIP_UNINSTALL_CHECK=1 skips step 3, for installs made without
# Helm. Needs: the project's .venv (make test creates it), kubectl 1.23 or newer, helm.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
release="${RELEASE:-serverops}"
namespace="${NAMESPACE:-serverops-system}"
timeout=120s

if [[ -z "${KUBECONFIG:-}" ]]; then
    echo "KUBECONFIG is not set: point it at the cluster to test." >&2
    exit 2
fi
if ! kubectl get crd servers.compute.serverops.io >/dev/null 2>&1; then
    echo "The Server CRD is missing: install serverops first (scripts/install.sh)." >&2
    exit 2
fi

echo "== 1. Contract tests against the cluster"
(cd "$root" && .venv/bin/pytest tests/contract "$@")

echo "== 2. Deletion contract"
test_namespace="serverops-e2e-$RANDOM"
kubectl create namespace "$test_namespace"
cleanup() {
    # Unlock first, so that the namespace deletion is not held by the locked server.
    kubectl -n "$test_namespace" patch server db-1 --type=merge \
        -p '{"spec":{"locked":false}}' >/dev/null 2>&1 || true
    kubectl delete namespace "$test_namespace" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

kubectl -n "$test_namespace" apply -f "$root/examples/"
kubectl -n "$test_namespace" wait server/web-1 server/db-1 \
    --for=jsonpath='{.status.status}'=ACTIVE --timeout "$timeout"
uid="$(kubectl -n "$test_namespace" get server web-1 -o jsonpath='{.metadata.uid}')"
created="$(kubectl -n "$test_namespace" get ports \
    -l "compute.serverops.io/server-uid=$uid" -o name | wc -l)"
if [[ "$created" -ne 2 ]]; then
    echo "FAIL: web-1 should have 2 created ports, has $created." >&2
    exit 1
fi

kubectl -n "$test_namespace" delete server web-1 --timeout "$timeout"
left="$(kubectl -n "$test_namespace" get ports \
    -l "compute.serverops.io/server-uid=$uid" -o name | wc -l)"
if [[ "$left" -ne 0 ]]; then
    echo "FAIL: $left created ports of web-1 are left after its deletion." >&2
    exit 1
fi
kubectl -n "$test_namespace" wait port/shared-port \
    --for=jsonpath='{.status.status}'=DOWN --timeout "$timeout"
echo "web-1 is gone with its created ports; shared-port is kept and DOWN."

if [[ "${SKIP_UNINSTALL_CHECK:-}" == 1 ]]; then
    echo "== 3. Uninstall guard skipped (SKIP_UNINSTALL_CHECK=1)"
    exit 0
fi

echo "== 3. Uninstall guard"
# The names the chart gives its objects: the release name, with "-serverops" unless the
# release name already contains it.
fullname="$release"
if [[ "$release" != *serverops* ]]; then
    fullname="$release-serverops"
fi
# db-1 still carries the finalizer, so the pre-delete hook must stop the uninstall
# before Helm deletes anything.
if helm uninstall "$release" --namespace "$namespace" --wait --timeout "$timeout"; then
    echo "FAIL: helm uninstall succeeded while db-1 waits on the operator's finalizer." >&2
    exit 1
fi
kubectl -n "$namespace" logs "job/$fullname-uninstall-check" || true
kubectl -n "$namespace" rollout status "deployment/$fullname" --timeout "$timeout"
kubectl -n "$test_namespace" get server db-1 -o name
echo "helm uninstall was refused; the operator and db-1 are still there."
