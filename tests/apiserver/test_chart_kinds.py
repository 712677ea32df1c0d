"""The built-in kinds a chart installs: discovery, defaults and the checks they get."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.apiserver.conftest import API

CORE = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"


async def create(api: API, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    return await api.request("POST", path, body)


@pytest.mark.parametrize(
    ("group_version", "plural", "kind", "namespaced", "short_names"),
    [
        ("v1", "configmaps", "ConfigMap", True, ["cm"]),
        ("v1", "secrets", "Secret", True, None),
        ("v1", "services", "Service", True, ["svc"]),
        ("v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
        ("apps/v1", "deployments", "Deployment", True, ["deploy"]),
        ("batch/v1", "jobs", "Job", True, None),
        ("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"]),
        ("rbac.authorization.k8s.io/v1", "roles", "Role", True, None),
        ("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False, None),
        ("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True, None),
        ("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False, None),
        (
            "admissionregistration.k8s.io/v1",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            False,
            None,
        ),
        (
            "admissionregistration.k8s.io/v1",
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
            False,
            None,
        ),
    ],
)
async def test_discovery_and_openapi(
    api: API,
    group_version: str,
    plural: str,
    kind: str,
    namespaced: bool,
    short_names: list[str] | None,
) -> None:
    root = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    _, resources = await api.request("GET", root)
    entry = next(item for item in resources["resources"] if item["name"] == plural)
    assert entry["kind"] == kind
    assert entry["namespaced"] is namespaced
    assert entry.get("shortNames") == short_names

    _, document = await api.request("GET", f"/openapi/v3/{root.lstrip('/')}")
    kinds = [
        gvk["kind"]
        for schema in document["components"]["schemas"].values()
        for gvk in schema.get("x-kubernetes-group-version-kind", [])
    ]
    assert kind in kinds


async def test_secret_data_must_be_base64(api: API) -> None:
    body = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"key": "not base64!"}}
    status, result = await create(api, f"{CORE}/secrets", body)
    assert status == 400
    assert result["message"] == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    )


async def test_secret_string_data_is_merged(api: API) -> None:
    body = {
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"user": base64.b64encode(b"admin").decode()},
        "stringData": {"password": "hunter2"},
    }
    status, created = await create(api, f"{CORE}/secrets", body)
    assert status == 201
    assert "stringData" not in created
    assert created["type"] == "Opaque"
    assert base64.b64decode(created["data"]["password"]) == b"hunter2"
    assert base64.b64decode(created["data"]["user"]) == b"admin"


async def test_config_keys_are_checked(api: API) -> None:
    body = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"bad key": "x"}}
    status, result = await create(api, f"{CORE}/configmaps", body)
    assert status == 422
    assert result["details"]["causes"][0]["field"] == "data[bad key]"

    body = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"n": 1}}
    status, result = await create(api, f"{CORE}/configmaps", body)
    assert status == 400
    assert (
        "cannot unmarshal number into Go struct field ConfigMap.data of type string"
        in (result["message"])
    )


async def test_immutable_config_map(api: API) -> None:
    body = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True}
    assert (await create(api, f"{CORE}/configmaps", body))[0] == 201
    status, result = await api.patch(f"{CORE}/configmaps/c", {"data": {"a": "2"}})
    assert status == 422
    assert "field is immutable when `immutable` is set" in result["message"]


async def test_service_defaults(api: API) -> None:
    body = {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 443}]}}
    status, created = await create(api, f"{CORE}/services", body)
    assert status == 201
    spec = created["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["clusterIP"].startswith("10.96.")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ports"] == [{"port": 443, "protocol": "TCP", "targetPort": 443}]

    status, result = await api.patch(f"{CORE}/services/web", {"spec": {"clusterIP": "10.96.9.9"}})
    assert status == 422
    assert "may not change once set" in result["message"]


async def test_deployment_selector_must_match(api: API) -> None:
    template = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}
    body = {
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "b"}}, "template": template},
    }
    status, result = await create(api, f"{APPS}/deployments", body)
    assert status == 422
    assert "`selector` does not match template `labels`" in result["message"]

    body["spec"]["selector"] = {"matchLabels": {"app": "a"}}
    status, created = await create(api, f"{APPS}/deployments", body)
    assert status == 201
    assert created["spec"]["replicas"] == 1
    assert created["spec"]["strategy"]["rollingUpdate"] == {
        "maxUnavailable": "25%",
        "maxSurge": "25%",
    }
    assert created["metadata"]["generation"] == 1


async def test_pod_disruption_budget_rule(api: API) -> None:
    body = {
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "p"},
        "spec": {"minAvailable": 1, "maxUnavailable": 1},
    }
    status, result = await create(
        api, "/apis/policy/v1/namespaces/default/poddisruptionbudgets", body
    )
    assert status == 422
    assert "minAvailable and maxUnavailable cannot be both set" in result["message"]


async def test_strategic_merge_patch_by_container_name(api: API) -> None:
    containers = [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]
    body = {
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": containers}},
        },
    }
    assert (await create(api, f"{APPS}/deployments", body))[0] == 201
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}}
    status, patched = await api.patch(
        f"{APPS}/deployments/d", patch, "application/strategic-merge-patch+json"
    )
    assert status == 200
    assert patched["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "a:1"},
        {"name": "b", "image": "b:2"},
    ]
