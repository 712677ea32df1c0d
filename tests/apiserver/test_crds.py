"""CRDs registered at runtime: establishment, validation and cleanup on deletion."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tests.apiserver.conftest import API, WIDGET_CRD

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GADGETS = "/apis/gadgets.example.com/v1/namespaces/default/gadgets"


def gadget_crd() -> dict[str, Any]:
    crd = copy.deepcopy(yaml.safe_load(WIDGET_CRD.read_text()))
    crd["metadata"]["name"] = "gadgets.gadgets.example.com"
    crd["spec"]["group"] = "gadgets.example.com"
    crd["spec"]["names"] = {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"}
    return dict(crd)


async def test_created_crd_becomes_established_and_served(api: API) -> None:
    status, created = await api.request("POST", CRDS, gadget_crd())
    assert status == 201
    assert created["status"]["conditions"] is None
    assert created["spec"]["names"]["listKind"] == "GadgetList"
    await api.server.settle()

    _, crd = await api.request("GET", f"{CRDS}/gadgets.gadgets.example.com")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["kind"] == "Gadget"
    body = {
        "apiVersion": "gadgets.example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": {"size": 2},
    }
    assert (await api.request("POST", GADGETS, body))[0] == 201
    _, group = await api.request("GET", "/apis/gadgets.example.com")
    assert group["preferredVersion"]["version"] == "v1"


async def test_invalid_crd_is_rejected(api: API) -> None:
    crd = gadget_crd()
    crd["metadata"]["name"] = "wrong.example.com"
    crd["spec"]["scope"] = "Galactic"
    status, answer = await api.request("POST", CRDS, crd)
    assert status == 422
    fields = [cause["field"] for cause in answer["details"]["causes"]]
    assert fields == ["metadata.name", "spec.scope"]


async def test_deleted_crd_removes_instances_then_stops_serving(api: API) -> None:
    await api.request("POST", CRDS, gadget_crd())
    await api.server.settle()
    body = {
        "apiVersion": "gadgets.example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g", "finalizers": ["gadgets.example.com/hold"]},
        "spec": {"size": 2},
    }
    assert (await api.request("POST", GADGETS, body))[0] == 201

    status, deleted = await api.request("DELETE", f"{CRDS}/gadgets.gadgets.example.com")
    assert status == 200
    assert deleted["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    await api.server.settle()
    _, crd = await api.request("GET", f"{CRDS}/gadgets.gadgets.example.com")
    terminating = [c for c in crd["status"]["conditions"] if c["type"] == "Terminating"]
    assert terminating[0]["reason"] == "InstanceDeletionPending"
    _, held = await api.request("GET", f"{GADGETS}/g")
    assert "deletionTimestamp" in held["metadata"]

    await api.patch(f"{GADGETS}/g", {"metadata": {"finalizers": None}})
    await api.server.settle()
    assert (await api.request("GET", f"{CRDS}/gadgets.gadgets.example.com"))[0] == 404
    assert (await api.request("GET", GADGETS))[0] == 404
    _, groups = await api.request("GET", "/apis")
    assert "gadgets.example.com" not in [group["name"] for group in groups["groups"]]


async def test_updated_crd_changes_the_schema(api: API) -> None:
    _, crd = await api.request("GET", f"{CRDS}/widgets.golden.example.com")
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "size"
    ]["maximum"] = 100
    status, updated = await api.request("PUT", f"{CRDS}/widgets.golden.example.com", crd)
    assert status == 200
    assert updated["metadata"]["generation"] == 2
    await api.server.settle()
    await api.create_widget("big", size=50)
