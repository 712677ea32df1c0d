"""
The real kubectl against the local API server, with the project's CRDs.

Each test runs kubectl 1.32 with default client settings (server-side field
validation, server-side tables, aggregated discovery) and a private cache directory,
and checks what a user would see.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from tests.kube import ROOT, Kubectl

EXAMPLES = ROOT / "examples"


@pytest.fixture
def crd_paths() -> list[pathlib.Path]:
    return [ROOT / "crds" / "server.yaml", ROOT / "crds" / "port.yaml"]


def _rows(output: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]


def test_apply_creates_then_configures(kubectl: Kubectl) -> None:
    created = kubectl("apply", "-f", str(EXAMPLES))
    assert "server.compute.serverops.io/web-1 created" in created.stdout
    assert "port.compute.serverops.io/shared-port created" in created.stdout

    again = kubectl("apply", "-f", str(EXAMPLES))
    assert "server.compute.serverops.io/web-1 unchanged" in again.stdout


def test_get_shows_printer_columns(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES))
    kubectl(
        "patch",
        "server",
        "web-1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"status":"ACTIVE","portCount":3}}',
    )

    rows = _rows(kubectl("get", "servers").stdout)
    assert rows[0] == ["NAME", "STATUS", "TASK", "LOCKED", "PORTS", "AGE"]
    web = next(row for row in rows if row[0] == "web-1")
    assert web[1:4] == ["ACTIVE", "false", "3"]

    wide = _rows(kubectl("get", "servers", "-o", "wide").stdout)
    assert wide[0] == ["NAME", "STATUS", "TASK", "LOCKED", "PORTS", "FLAVOR", "IMAGE", "AGE"]

    both = kubectl("get", "servers,ports").stdout
    assert "server.compute.serverops.io/db-1" in both
    assert "port.compute.serverops.io/shared-port" in both


def test_short_names_and_categories(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES))
    assert "web-1" in kubectl("get", "srv").stdout
    everything = kubectl("get", "serverops").stdout
    assert "server.compute.serverops.io/web-1" in everything
    assert "port.compute.serverops.io/shared-port" in everything


def test_describe_and_explain(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES))
    described = kubectl("describe", "server", "web-1").stdout
    assert "Flavor:  m1.small" in described
    assert "Events:" in described

    explained = kubectl("explain", "server.spec.locked").stdout
    assert "Whether the server is locked." in explained
    assert "<boolean>" in explained


def test_strict_validation_rejects_unknown_fields(kubectl: Kubectl, tmp_path: pathlib.Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        "apiVersion: compute.serverops.io/v1alpha1\nkind: Server\nmetadata: {name: bad}\n"
        "spec: {flavor: m1.small, image: cirros, colour: red}\n"
    )
    result = kubectl("apply", "-f", str(manifest), check=False)
    assert result.returncode != 0
    assert 'strict decoding error: unknown field "spec.colour"' in result.stderr


def test_schema_errors_reach_the_user(kubectl: Kubectl, tmp_path: pathlib.Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        "apiVersion: compute.serverops.io/v1alpha1\nkind: Server\nmetadata: {name: bad}\n"
        "spec: {flavor: '', image: cirros}\n"
    )
    result = kubectl("apply", "-f", str(manifest), check=False)
    assert result.returncode != 0
    assert "spec.flavor in body should be at least 1 chars long" in result.stderr


def test_patch_annotate_label(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES))
    kubectl("patch", "server", "web-1", "--type=merge", "-p", '{"spec":{"flavor":"m1.large"}}')
    kubectl(
        "patch",
        "server",
        "web-1",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/image","value":"fedora"}]',
    )
    kubectl("annotate", "server", "web-1", "team=blue")
    kubectl("label", "server", "web-1", "tier=front")

    server = json.loads(kubectl("get", "server", "web-1", "-o", "json").stdout)
    assert server["spec"]["flavor"] == "m1.large"
    assert server["spec"]["image"] == "fedora"
    assert server["metadata"]["annotations"]["team"] == "blue"
    assert server["metadata"]["generation"] == 3
    assert kubectl("get", "servers", "-l", "tier=front", "-o", "name").stdout.split() == [
        "server.compute.serverops.io/web-1"
    ]


def test_strategic_merge_patch_is_rejected_for_custom_resources(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES))
    result = kubectl("patch", "server", "web-1", "-p", '{"spec":{"flavor":"x"}}', check=False)
    assert result.returncode != 0
    assert "UnsupportedMediaType" in result.stderr or "unknown format" in result.stderr


def test_wait_for_status_and_deletion(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES))
    kubectl(
        "patch",
        "server",
        "db-1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"status":"ACTIVE"}}',
    )
    kubectl("wait", "--for=jsonpath={.status.status}=ACTIVE", "server/db-1", "--timeout=10s")

    kubectl(
        "patch",
        "server",
        "db-1",
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":["compute.serverops.io/hold"]}}',
    )
    kubectl("delete", "server", "db-1", "--wait=false")
    held = json.loads(kubectl("get", "server", "db-1", "-o", "json").stdout)
    assert "deletionTimestamp" in held["metadata"]

    kubectl(
        "patch",
        "server",
        "db-1",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
    )
    kubectl("wait", "--for=delete", "server/db-1", "--timeout=10s")
    assert kubectl("get", "server", "db-1", check=False).returncode != 0


def test_delete_waits_until_gone(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES))
    deleted = kubectl("delete", "-f", str(EXAMPLES), "--timeout=20s")
    assert 'server.compute.serverops.io "web-1" deleted' in deleted.stdout
    assert kubectl("get", "servers", "-o", "name").stdout.strip() == ""


def test_dry_run_server_changes_nothing(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES))
    kubectl("delete", "server", "web-1", "--dry-run=server")
    assert "web-1" in kubectl("get", "server", "web-1", "-o", "name").stdout
    kubectl("apply", "-f", str(EXAMPLES / "server-db-1-locked.yaml"), "--dry-run=server")


def test_namespaces_and_events(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "team-a")
    kubectl("apply", "-n", "team-a", "-f", str(EXAMPLES))
    kubectl("delete", "namespace", "team-a", "--timeout=20s")
    assert kubectl("get", "namespace", "team-a", check=False).returncode != 0
    assert "No resources found" in kubectl("get", "events", "-A").stderr


CHART_OBJECTS = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: serverops}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {interval: "30"}
---
apiVersion: v1
kind: Service
metadata: {name: webhook}
spec:
  selector: {app: serverops}
  ports: [{name: https, port: 443, targetPort: 9443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: serverops}
spec:
  replicas: 2
  selector: {matchLabels: {app: serverops}}
  template:
    metadata: {labels: {app: serverops}}
    spec:
      serviceAccountName: serverops
      containers:
      - {name: operator, image: "serverops:dev", ports: [{containerPort: 9443}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: serverops}
rules:
- apiGroups: [compute.serverops.io]
  resources: [servers, servers/status]
  verbs: [get, list, watch, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: serverops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: serverops}
subjects: [{kind: ServiceAccount, name: serverops, namespace: default}]
"""


def test_apply_chart_kinds(kubectl: Kubectl, tmp_path: pathlib.Path) -> None:
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(CHART_OBJECTS)
    created = kubectl("apply", "-f", str(manifest))
    assert created.stderr == ""
    assert "deployment.apps/serverops created" in created.stdout
    assert "clusterrolebinding.rbac.authorization.k8s.io/serverops created" in created.stdout

    again = kubectl("apply", "-f", str(manifest))
    assert again.stderr == ""
    assert [line.rsplit(" ", 1)[1] for line in again.stdout.splitlines()] == ["unchanged"] * 6

    manifest.write_text(CHART_OBJECTS.replace("replicas: 2", "replicas: 3"))
    changed = kubectl("apply", "-f", str(manifest))
    assert "deployment.apps/serverops configured" in changed.stdout
    rows = _rows(kubectl("get", "deployments,services").stdout)
    assert rows[0] == ["NAME", "REPLICAS", "AGE"]
    assert rows[1][:2] == ["deployment.apps/serverops", "3"]
    assert rows[3][:3] == ["NAME", "TYPE", "CLUSTER-IP"]
