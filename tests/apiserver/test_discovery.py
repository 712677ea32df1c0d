"""Discovery documents, OpenAPI documents, version and health."""

from __future__ import annotations

from tests.apiserver.conftest import API

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


async def test_legacy_discovery(api: API) -> None:
    _, versions = await api.request("GET", "/api")
    assert versions["versions"] == ["v1"]
    _, groups = await api.request("GET", "/apis")
    names = [group["name"] for group in groups["groups"]]
    assert names == [
        "apps",
        "events.k8s.io",
        "batch",
        "policy",
        "authorization.k8s.io",
        "rbac.authorization.k8s.io",
        "admissionregistration.k8s.io",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
        "golden.example.com",
    ]
    _, core = await api.request("GET", "/api/v1")
    assert {"namespaces", "namespaces/status", "namespaces/finalize", "events"} <= {
        r["name"] for r in core["resources"]
    }


async def test_aggregated_discovery(api: API) -> None:
    async with api.session.get("/apis", headers={"Accept": AGGREGATED}) as response:
        assert response.headers["Content-Type"].startswith(
            "application/json;g=apidiscovery.k8s.io;v=v2"
        )
        document = await response.json(content_type=None)
    assert document["kind"] == "APIGroupDiscoveryList"
    widgets = next(
        item for item in document["items"] if item["metadata"]["name"] == "golden.example.com"
    )
    resource = widgets["versions"][0]["resources"][0]
    assert resource["resource"] == "widgets"
    assert resource["scope"] == "Namespaced"
    assert resource["shortNames"] == ["wdg"]
    assert resource["subresources"][0]["subresource"] == "status"


async def test_openapi_v3_describes_custom_resources(api: API) -> None:
    _, root = await api.request("GET", "/openapi/v3")
    url = root["paths"]["apis/golden.example.com/v1"]["serverRelativeURL"]
    assert "?hash=" in url
    _, document = await api.request("GET", url)
    schema = document["components"]["schemas"]["com.example.golden.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "golden.example.com", "kind": "Widget", "version": "v1"}
    ]
    assert schema["properties"]["spec"]["required"] == ["size"]
    patch = document["paths"]["/apis/golden.example.com/v1/namespaces/{namespace}/widgets/{name}"][
        "patch"
    ]
    assert "fieldValidation" in [parameter["name"] for parameter in patch["parameters"]]


async def test_openapi_v2(api: API) -> None:
    _, document = await api.request("GET", "/openapi/v2")
    assert document["swagger"] == "2.0"
    assert "com.example.golden.v1.Widget" in document["definitions"]
    protobuf = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    async with api.session.get("/openapi/v2", headers={"Accept": protobuf}) as response:
        assert response.status == 200
        assert await response.read() == b""


async def test_version_and_health(api: API) -> None:
    _, version = await api.request("GET", "/version")
    assert (version["major"], version["minor"]) == ("1", "32")
    async with api.session.get("/readyz") as response:
        assert await response.text() == "ok"
