"""The Kustomize base, as `kubectl kustomize manifests/` renders it, and its agreement
with the Helm chart's default render."""

from __future__ import annotations

from typing import Any

import yaml

from tests.packaging.conftest import KUBE_VERSIONS, NAMESPACE, ROOT, find
from tests.packaging.test_chart import (
    UNSCHEMED_GROUPS,
    WEBHOOK_KINDS,
    operator_webhooks,
    webhooks_of,
)

CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}


def test_base_matches_kubernetes_schemas(helm_output: dict[str, Any]) -> None:
    validation = helm_output["validations"]["kustomize"]
    assert sorted(validation) == sorted(KUBE_VERSIONS)
    for version, results in validation.items():
        invalid = [result for result in results if result["result"] == "invalid"]
        assert invalid == [], f"Kubernetes {version}"
        unschemed = {
            result["apiVersion"].split("/")[0]
            for result in results
            if result["result"] == "no-schema"
        }
        assert unschemed <= UNSCHEMED_GROUPS, f"Kubernetes {version}"


def test_base_installs_into_one_namespace(kustomize_objects: list[dict[str, Any]]) -> None:
    for obj in kustomize_objects:
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"], obj["metadata"]["name"]
        else:
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]
    binding = find(kustomize_objects, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "serverops", "namespace": NAMESPACE}
    ]


def test_base_crds_are_the_crds_folder(kustomize_objects: list[dict[str, Any]]) -> None:
    source = {
        doc["metadata"]["name"]: doc
        for path in sorted((ROOT / "crds").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    }
    crds = [obj for obj in kustomize_objects if obj["kind"] == "CustomResourceDefinition"]
    assert sorted(crd["metadata"]["name"] for crd in crds) == sorted(source)
    for crd in crds:
        assert crd["spec"] == source[crd["metadata"]["name"]]["spec"]
        annotations = crd["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
        assert annotations["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
        assert annotations["helm.sh/resource-policy"] == "keep"


def test_base_webhooks_match_chart(
    kustomize_objects: list[dict[str, Any]], rendered: dict[str, list[dict[str, Any]]]
) -> None:
    assert webhooks_of(kustomize_objects) == operator_webhooks()
    assert webhooks_of(kustomize_objects) == webhooks_of(rendered["cert-manager"])
    certificate = find(kustomize_objects, "Certificate")
    for kind in WEBHOOK_KINDS:
        configuration = find(kustomize_objects, kind)
        assert configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
            f"{NAMESPACE}/{certificate['metadata']['name']}"
        )


def test_base_deployment_matches_chart(
    kustomize_objects: list[dict[str, Any]], rendered: dict[str, list[dict[str, Any]]]
) -> None:
    base = find(kustomize_objects, "Deployment")["spec"]
    chart = find(rendered["defaults"], "Deployment")["spec"]
    assert base["replicas"] == chart["replicas"]
    assert base["strategy"] == chart["strategy"]
    base_pod, chart_pod = base["template"]["spec"], chart["template"]["spec"]
    for field in ["securityContext", "terminationGracePeriodSeconds", "volumes"]:
        assert base_pod[field] == chart_pod[field], field
    base_container, chart_container = base_pod["containers"][0], chart_pod["containers"][0]
    for field in [
        "args",
        "env",
        "ports",
        "startupProbe",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "securityContext",
        "volumeMounts",
    ]:
        assert base_container[field] == chart_container[field], field
    budget = find(kustomize_objects, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
