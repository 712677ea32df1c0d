"""The Helm chart, rendered by Helm 4 (helm-sdkpy) with each values file under values/.

What only a cluster shows is left out: that the pods start, that the API server reaches
the webhook, and that helm uninstall stops at the hook. scripts/e2e-real.sh covers those.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml
from cryptography import x509

from serverops import webhooks
from tests.packaging.conftest import CHART, NAMESPACE, VALUES_FILES, find

# API groups whose kinds have no schema in kubernetes-validate. The tests below check
# those kinds instead.
UNSCHEMED_GROUPS = {"cert-manager.io", "monitoring.coreos.com"}

WEBHOOK_KINDS = ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]


def webhooks_of(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return every webhook of both configurations by name, without its caBundle."""
    result = {}
    for kind in WEBHOOK_KINDS:
        for webhook in find(objects, kind)["webhooks"]:
            client_config = {k: v for k, v in webhook["clientConfig"].items() if k != "caBundle"}
            result[webhook["name"]] = dict(webhook, clientConfig=client_config)
    return result


def operator_webhooks() -> dict[str, dict[str, Any]]:
    """Return the webhooks as the operator's own builder makes them for the chart's Service."""
    service = {"name": "serverops-webhook", "namespace": NAMESPACE, "port": 443}
    configurations = webhooks.configurations(client_config={"service": service})
    return {
        webhook["name"]: webhook
        for configuration in configurations
        for webhook in configuration["webhooks"]
    }


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = find(objects, "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        var["name"]: var.get("value", var.get("valueFrom")) for var in container(objects)["env"]
    }


def test_lint_reports_no_warnings(helm_output: dict[str, Any]) -> None:
    lint = helm_output["lint"]
    assert lint["errors"] is None
    # Severity 1 is INFO (Chart.yaml has no icon), 2 is WARNING and 3 is ERROR.
    worse = [message for message in lint["messages"] if message["severity"] > 1]
    assert worse == []


@pytest.mark.parametrize("label", sorted(VALUES_FILES))
def test_values_file_renders(helm_output: dict[str, Any], label: str) -> None:
    render = helm_output["renders"][label]
    assert "error" not in render, render.get("error")
    assert render["manifest"].strip()
    assert "serverops" in render["notes"]


@pytest.mark.parametrize("label", sorted(VALUES_FILES))
def test_render_matches_kubernetes_schemas(helm_output: dict[str, Any], label: str) -> None:
    validation = helm_output["renders"][label]["validation"]
    assert validation, "no validation ran"
    for version, results in validation.items():
        invalid = [result for result in results if result["result"] == "invalid"]
        assert invalid == [], f"Kubernetes {version}"
        unschemed = {
            result["apiVersion"].split("/")[0]
            for result in results
            if result["result"] == "no-schema"
        }
        assert unschemed <= UNSCHEMED_GROUPS, f"Kubernetes {version}"


def test_schema_rejects_unknown_value(
    py312_python: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.packaging.conftest import run_helmtool

    workdir = tmp_path_factory.mktemp("bad-values")
    cases = {
        "unknown-key": {"replica": 3},
        "bad-interval": {"operator": {"reclaimInterval": "one hour"}},
        "no-namespaces": {"operator": {"watch": {"allNamespaces": False, "namespaces": []}}},
        "two-leaders": {"leaderElection": {"enabled": False}},
        "long-timeout": {"webhook": {"timeoutSeconds": 31}},
    }
    renders = {}
    for label, values in cases.items():
        path = workdir / f"{label}.yaml"
        path.write_text(yaml.safe_dump(values))
        renders[label] = {
            "chart": str(CHART),
            "release": "serverops",
            "namespace": NAMESPACE,
            "values_files": [str(path)],
        }
    output = run_helmtool(py312_python, {"renders": renders}, workdir)
    for label in cases:
        assert "error" in output["renders"][label], f"{label} rendered"
    assert "leaderElection" in output["renders"]["two-leaders"]["error"]


def test_deployment_is_highly_available(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["defaults"]
    spec = find(objects, "Deployment")["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert (
        anti[0]["podAffinityTerm"]["labelSelector"]["matchLabels"]
        == spec["selector"]["matchLabels"]
    )
    assert pod["terminationGracePeriodSeconds"] >= 30
    budget = find(objects, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1
    assert budget["selector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_deployment_runs_non_root_read_only(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["defaults"]
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)
    assert pod["securityContext"]["runAsUser"] > 0
    security = container(objects)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container(objects)["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes[mounts["/tmp"]]["emptyDir"]["medium"] == "Memory"


def test_deployment_configures_operator(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["defaults"]
    operator = container(objects)
    assert operator["image"] == "serverops:0.1.0"
    assert operator["args"] == ["run", "--all-namespaces"]
    env = env_of(objects)
    assert env["SERVEROPS_LIVENESS"] == "http://0.0.0.0:8081/healthz"
    assert env["SERVEROPS_RECLAIM_INTERVAL"] == "0"
    assert env["SERVEROPS_ADMIN_GROUPS"] == "system:masters"
    assert env["SERVEROPS_WEBHOOK_PORT"] == "9443"
    assert env["SERVEROPS_WEBHOOK_ADDRESS"] == "0.0.0.0"
    assert env["SERVEROPS_APPROVAL_KEY_FILE"] == "/etc/serverops/approval/key"
    assert env["SERVEROPS_METRICS_PORT"] == "8080"
    assert env["SERVEROPS_STANDALONE"] == "true"
    assert env["SERVEROPS_LEADER_ELECTION_LEASE"] == "serverops"
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert operator["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert operator["readinessProbe"]["tcpSocket"] == {"port": "webhook"}
    ports = {port["name"]: port["containerPort"] for port in operator["ports"]}
    assert ports == {"webhook": 9443, "metrics": 8080, "healthz": 8081}


def test_admin_groups_and_reclaim_interval(rendered: dict[str, list[dict[str, Any]]]) -> None:
    env = env_of(rendered["admin-groups"])
    assert env["SERVEROPS_ADMIN_GROUPS"] == "system:masters,platform-admins"
    assert env["SERVEROPS_RECLAIM_INTERVAL"] == "1h"


def test_namespaced_watch_limits_webhooks(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["namespaced"]
    assert container(objects)["args"] == ["run", "--namespace", "team-a", "--namespace", "team-b"]
    for webhook in webhooks_of(objects).values():
        expression = webhook["namespaceSelector"]["matchExpressions"][0]
        assert expression["key"] == "kubernetes.io/metadata.name"
        assert expression["values"] == ["team-a", "team-b"]


def test_namespace_glob_keeps_webhooks_unscoped(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["namespaced-glob"]
    assert container(objects)["args"] == ["run", "--namespace", "team-*"]
    for webhook in webhooks_of(objects).values():
        assert "namespaceSelector" not in webhook


@pytest.mark.parametrize("label", ["defaults", "cert-manager"])
def test_webhooks_match_operator_handlers(
    rendered: dict[str, list[dict[str, Any]]], label: str
) -> None:
    """The webhooks are those that serverops.webhooks builds, one per kopf handler."""
    objects = rendered[label]
    assert webhooks_of(objects) == operator_webhooks()
    service = find(objects, "Service", "serverops-webhook")
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 443, "targetPort": "webhook"}]


def test_webhooks_split_failure_policy(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for name, webhook in webhooks_of(rendered["defaults"]).items():
        operations = webhook["rules"][0]["operations"]
        if operations == ["DELETE"]:
            assert webhook["failurePolicy"] == "Ignore", name
            assert webhook["sideEffects"] == "NoneOnDryRun", name
        else:
            assert "DELETE" not in operations, name
            assert webhook["failurePolicy"] == "Fail", name
            assert webhook["sideEffects"] == "None", name
        assert webhook["timeoutSeconds"] == 5, name


def test_generated_certificate_is_signed_by_ca_bundle(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["defaults"]
    secret = find(objects, "Secret", "serverops-webhook-tls")
    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    certificate = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    certificate.verify_directly_issued_by(ca)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == [
        f"serverops-webhook.{NAMESPACE}.svc",
        f"serverops-webhook.{NAMESPACE}.svc.cluster.local",
    ]
    for kind in WEBHOOK_KINDS:
        for webhook in find(objects, kind)["webhooks"]:
            assert webhook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
    volumes = find(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"secretName": "serverops-webhook-tls"} in [v.get("secret") for v in volumes]


def test_upgrade_reuses_existing_certificate(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["existing-secret"]
    secret = find(objects, "Secret", "serverops-webhook-tls")
    assert secret["data"] == {"ca.crt": "Q0EtQlVORExF", "tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}
    for kind in WEBHOOK_KINDS:
        for webhook in find(objects, kind)["webhooks"]:
            assert webhook["clientConfig"]["caBundle"] == "Q0EtQlVORExF"


def test_cert_manager_injects_ca(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["cert-manager"]
    secrets = [obj["metadata"]["name"] for obj in objects if obj["kind"] == "Secret"]
    assert secrets == ["serverops-approval-key"]
    certificate = find(objects, "Certificate")
    issuer = find(objects, "Issuer")
    assert certificate["spec"]["issuerRef"] == {
        "kind": "Issuer",
        "name": issuer["metadata"]["name"],
    }
    assert certificate["spec"]["secretName"] == "serverops-webhook-tls"
    assert certificate["spec"]["dnsNames"] == [
        f"serverops-webhook.{NAMESPACE}.svc",
        f"serverops-webhook.{NAMESPACE}.svc.cluster.local",
    ]
    for kind in WEBHOOK_KINDS:
        configuration = find(objects, kind)
        annotation = configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        assert annotation == f"{NAMESPACE}/{certificate['metadata']['name']}"
        for webhook in configuration["webhooks"]:
            assert "caBundle" not in webhook["clientConfig"]
    monitor = find(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_cert_manager_uses_given_secrets(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["cert-manager-issuer"]
    assert [obj for obj in objects if obj["kind"] == "Issuer"] == []
    certificate = find(objects, "Certificate")
    assert certificate["spec"]["issuerRef"] == {"kind": "ClusterIssuer", "name": "internal-ca"}
    assert [obj for obj in objects if obj["kind"] == "Secret"] == []
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["approval-key"]["secret"]["secretName"] == "serverops-approval"


def test_crds_are_kept_on_uninstall(rendered: dict[str, list[dict[str, Any]]]) -> None:
    crds = [obj for obj in rendered["defaults"] if obj["kind"] == "CustomResourceDefinition"]
    source = {
        doc["metadata"]["name"]: doc
        for path in sorted((CHART.parents[1] / "crds").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    }
    assert sorted(crd["metadata"]["name"] for crd in crds) == sorted(source)
    for crd in crds:
        annotations = crd["metadata"]["annotations"]
        assert annotations["helm.sh/resource-policy"] == "keep"
        assert annotations["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
        original = source[crd["metadata"]["name"]]
        assert crd["spec"] == original["spec"]
        assert crd["metadata"]["labels"] == original["metadata"]["labels"]


def test_single_replica_turns_parts_off(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["single-replica"]
    kinds = {obj["kind"] for obj in objects}
    assert "CustomResourceDefinition" not in kinds
    assert "PodDisruptionBudget" not in kinds
    assert "Role" not in kinds
    assert "Job" not in kinds
    assert [obj["metadata"]["name"] for obj in objects if obj["kind"] == "Service"] == [
        "serverops-webhook"
    ]
    env = env_of(objects)
    assert "SERVEROPS_LEADER_ELECTION_LEASE" not in env
    assert "SERVEROPS_METRICS_PORT" not in env


def test_uninstall_check_is_pre_delete_hook(helm_output: dict[str, Any]) -> None:
    render = helm_output["renders"]["defaults"]
    assert [hook["events"] for hook in render["hooks"]] == [["pre-delete"]]
    job = yaml.safe_load(render["hooks"][0]["manifest"])
    assert job["kind"] == "Job"
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    deployment = find(helm_output_objects(render), "Deployment")
    operator_pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == operator_pod["serviceAccountName"]
    check = pod["containers"][0]
    assert check["image"] == operator_pod["containers"][0]["image"]
    assert check["args"] == ["check-uninstall"]
    assert check["securityContext"]["readOnlyRootFilesystem"] is True


def helm_output_objects(render: dict[str, Any]) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(render["manifest"]) if doc]


def test_uninstall_check_can_be_argocd_hook(helm_output: dict[str, Any]) -> None:
    hooks = helm_output["renders"]["admin-groups"]["hooks"]
    job = yaml.safe_load(hooks[0]["manifest"])
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreDelete"
    default = yaml.safe_load(helm_output["renders"]["defaults"]["hooks"][0]["manifest"])
    assert "argocd.argoproj.io/hook" not in default["metadata"]["annotations"]


def test_approval_key_is_shared_and_kept(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["defaults"]
    secret = find(objects, "Secret", "serverops-approval-key")
    assert len(base64.b64decode(secret["data"]["key"])) >= 16
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["approval-key"]["secret"]["secretName"] == "serverops-approval-key"
    mounts = {mount["name"]: mount["mountPath"] for mount in container(objects)["volumeMounts"]}
    assert mounts["approval-key"] == "/etc/serverops/approval"
    reused = find(rendered["existing-secret"], "Secret", "serverops-approval-key")
    assert reused["data"] == {"key": "QVBQUk9WQUwtS0VZLTAxMjM0NTY3ODk="}


def test_reinstall_takes_over_kept_crds(helm_output: dict[str, Any]) -> None:
    render = helm_output["renders"]["reinstall"]
    assert "error" not in render, render.get("error")
    other = helm_output["renders"]["reinstall-other-release"]
    assert "invalid ownership metadata" in other["error"]
    assert "CustomResourceDefinition" in other["error"]
