"""The operator's RBAC rules: one commented source in manifests/rbac, no wildcards, and
the same rules in the Kustomize base and in every render of the chart."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.packaging.conftest import MANIFESTS, VALUES_FILES, find

SOURCES = {
    "ClusterRole": MANIFESTS / "rbac" / "clusterrole.yaml",
    "Role": MANIFESTS / "rbac" / "role.yaml",
}


def source_rules(kind: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = yaml.safe_load(SOURCES[kind].read_text())["rules"]
    return rules


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_rules_have_no_wildcards(kind: str) -> None:
    for rule in source_rules(kind):
        for field in ["apiGroups", "resources", "verbs", "resourceNames"]:
            assert "*" not in rule.get(field, []), f"{field} of {rule}"
        assert "nonResourceURLs" not in rule


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_each_rule_has_comment(kind: str) -> None:
    lines = SOURCES[kind].read_text().splitlines()
    starts = [number for number, line in enumerate(lines) if line.startswith("  - apiGroups:")]
    assert len(starts) == len(source_rules(kind))
    for number in starts:
        assert lines[number - 1].strip().startswith("#"), f"line {number + 1} has no comment"


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_each_rule_names_one_resource(kind: str) -> None:
    for rule in source_rules(kind):
        assert len(rule["apiGroups"]) == 1, rule
        assert len(rule["resources"]) == 1, rule


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_base_renders_source_rules(kind: str, kustomize_objects: list[dict[str, Any]]) -> None:
    assert find(kustomize_objects, kind)["rules"] == source_rules(kind)


@pytest.mark.parametrize("label", sorted(VALUES_FILES))
def test_chart_renders_source_rules(label: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered[label]
    assert find(objects, "ClusterRole")["rules"] == source_rules("ClusterRole")
    roles = [obj for obj in objects if obj["kind"] == "Role"]
    if label == "single-replica":
        assert roles == []
    else:
        assert find(objects, "Role")["rules"] == source_rules("Role")


def test_bindings_name_operator_account(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["defaults"]
    account = find(objects, "ServiceAccount")["metadata"]["name"]
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account
    for kind in ["ClusterRoleBinding", "RoleBinding"]:
        binding = find(objects, kind)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": "serverops-system"}
        ]
        role_kind = "ClusterRole" if kind == "ClusterRoleBinding" else "Role"
        assert binding["roleRef"]["name"] == find(objects, role_kind)["metadata"]["name"]
