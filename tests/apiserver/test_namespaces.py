"""Namespaces: defaults, deletion of their content, and the finalize flow."""

from __future__ import annotations

from tests.apiserver.conftest import API

NAMESPACES = "/api/v1/namespaces"


async def create_namespace(api: API, name: str) -> None:
    status, _ = await api.request(
        "POST", NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    assert status == 201


async def test_default_namespaces_exist(api: API) -> None:
    _, listed = await api.request("GET", NAMESPACES)
    names = [item["metadata"]["name"] for item in listed["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert listed["items"][0]["spec"] == {"finalizers": ["kubernetes"]}
    assert listed["items"][0]["status"] == {"phase": "Active"}


async def test_namespace_names_are_labels(api: API) -> None:
    status, answer = await api.request(
        "POST", NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}
    )
    assert status == 422
    assert "RFC 1123 label" in answer["message"]


async def test_system_namespaces_cannot_be_deleted(api: API) -> None:
    status, answer = await api.request("DELETE", f"{NAMESPACES}/default")
    assert status == 403
    assert (
        answer["message"] == 'namespaces "default" is forbidden: this namespace may not be deleted'
    )


async def test_deletion_empties_and_removes_namespace(api: API) -> None:
    await create_namespace(api, "team")
    widgets = "/apis/golden.example.com/v1/namespaces/team/widgets"
    body = {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "finalizers": ["golden.example.com/hold"]},
        "spec": {"size": 1},
    }
    assert (await api.request("POST", widgets, body))[0] == 201
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "reason": "x"}
    assert (await api.request("POST", "/api/v1/namespaces/team/events", event))[0] == 201

    status, deleted = await api.request("DELETE", f"{NAMESPACES}/team")
    assert status == 200
    assert deleted["status"]["phase"] == "Terminating"
    await api.server.settle()

    _, namespace = await api.request("GET", f"{NAMESPACES}/team")
    conditions = {c["type"]: c for c in namespace["status"]["conditions"]}
    assert conditions["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: widgets.golden.example.com has 1 resource instances"
    )
    assert (await api.request("GET", "/api/v1/namespaces/team/events/e"))[0] == 404
    status, refused = await api.request("POST", widgets, {**body, "metadata": {"name": "late"}})
    assert status == 403
    assert refused["details"]["causes"][0]["reason"] == "NamespaceTerminating"

    await api.patch(f"{widgets}/w", {"metadata": {"finalizers": None}})
    await api.server.settle()
    assert (await api.request("GET", f"{NAMESPACES}/team"))[0] == 404


async def test_finalize_subresource_releases_namespace(api: API) -> None:
    await create_namespace(api, "held")
    await api.server.settle()
    _, namespace = await api.request("GET", f"{NAMESPACES}/held")
    namespace["spec"]["finalizers"] = ["example.com/custom", "kubernetes"]
    status, _ = await api.request("PUT", f"{NAMESPACES}/held/finalize", namespace)
    assert status == 200
    await api.request("DELETE", f"{NAMESPACES}/held")
    await api.server.settle()
    _, still = await api.request("GET", f"{NAMESPACES}/held")
    assert still["spec"]["finalizers"] == ["example.com/custom"]
    still["spec"]["finalizers"] = []
    await api.request("PUT", f"{NAMESPACES}/held/finalize", still)
    assert (await api.request("GET", f"{NAMESPACES}/held"))[0] == 404
