"""Reads and writes over HTTP: metadata, generations, status, conflicts, dry runs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apiserver.conftest import API, WIDGETS


async def test_create_sets_server_fields(api: API) -> None:
    created = await api.create_widget("a")
    meta = created["metadata"]
    assert meta["generation"] == 1
    assert meta["namespace"] == "default"
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z")
    assert created["spec"] == {"size": 3, "color": "red", "locked": False}


async def test_generate_name(api: API) -> None:
    created = await api.create_widget("", generateName="w-")
    name = created["metadata"]["name"]
    assert name.startswith("w-")
    assert len(name) == 7


async def test_create_in_missing_namespace_is_not_found(api: API) -> None:
    body = {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "a"},
        "spec": {"size": 1},
    }
    status, answer = await api.request(
        "POST", "/apis/golden.example.com/v1/namespaces/nope/widgets", body
    )
    assert status == 404
    assert answer["message"] == 'namespaces "nope" not found'


async def test_generation_counts_spec_changes_only(api: API) -> None:
    await api.create_widget("a")
    _, patched = await api.patch(f"{WIDGETS}/a", {"metadata": {"labels": {"x": "y"}}})
    assert patched["metadata"]["generation"] == 1
    _, patched = await api.patch(f"{WIDGETS}/a", {"spec": {"size": 4}})
    assert patched["metadata"]["generation"] == 2
    _, patched = await api.patch(f"{WIDGETS}/a/status", {"status": {"status": "ACTIVE"}})
    assert patched["metadata"]["generation"] == 2


async def test_noop_update_keeps_resource_version(api: API) -> None:
    created = await api.create_widget("a")
    _, patched = await api.patch(f"{WIDGETS}/a", {"spec": {"size": 3}})
    assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_status_subresource_split(api: API) -> None:
    await api.create_widget("a")
    _, main = await api.patch(f"{WIDGETS}/a", {"status": {"status": "X"}})
    assert "status" not in main
    _, status = await api.patch(
        f"{WIDGETS}/a/status", {"spec": {"size": 9}, "status": {"status": "Y"}}
    )
    assert status["spec"]["size"] == 3
    assert status["status"] == {"status": "Y"}
    invalid, answer = await api.patch(
        f"{WIDGETS}/a/status", {"status": {"observedGeneration": "x"}}
    )
    assert invalid == 422
    assert answer["details"]["causes"][0]["field"] == "status.observedGeneration"


async def test_put_with_stale_resource_version_conflicts(api: API) -> None:
    created = await api.create_widget("a")
    await api.patch(f"{WIDGETS}/a", {"spec": {"size": 4}})
    status, answer = await api.request("PUT", f"{WIDGETS}/a", created)
    assert status == 409
    assert answer["reason"] == "Conflict"
    assert answer["details"] == {"name": "a", "group": "golden.example.com", "kind": "widgets"}


async def test_put_name_must_match_url(api: API) -> None:
    created = await api.create_widget("a")
    created["metadata"]["name"] = "b"
    status, answer = await api.request("PUT", f"{WIDGETS}/a", created)
    assert status == 400
    assert "does not match the name on the URL" in answer["message"]


async def test_merge_patch_with_resource_version_is_a_precondition(api: API) -> None:
    await api.create_widget("a")
    status, _ = await api.patch(
        f"{WIDGETS}/a", {"metadata": {"resourceVersion": "1"}, "spec": {"size": 2}}
    )
    assert status == 409


@pytest.mark.parametrize(
    ("mode", "status", "warned"),
    [("Strict", 400, False), ("Warn", 201, True), ("Ignore", 201, False)],
)
async def test_field_validation(api: API, mode: str, status: int, warned: bool) -> None:
    body = {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "a"},
        "spec": {"size": 1, "extra": 1},
    }
    async with api.session.post(f"{WIDGETS}?fieldValidation={mode}", json=body) as response:
        assert response.status == status
        answer = await response.json()
        warnings = response.headers.getall("Warning", [])
    if status == 400:
        assert answer["message"] == (
            'Widget in version "v1" cannot be handled as a Widget: '
            'strict decoding error: unknown field "spec.extra"'
        )
    else:
        assert "extra" not in answer["spec"]
    assert bool(warnings) is warned
    if warned:
        assert warnings == ['299 - "unknown field \\"spec.extra\\""']


async def test_dry_run_writes_nothing(api: API) -> None:
    body: dict[str, Any] = {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "a"},
        "spec": {"size": 1},
    }
    status, _ = await api.request("POST", f"{WIDGETS}?dryRun=All", body)
    assert status == 201
    assert (await api.request("GET", f"{WIDGETS}/a"))[0] == 404
    created = await api.create_widget("a")
    status, patched = await api.request(
        "PATCH",
        f"{WIDGETS}/a?dryRun=All",
        {"spec": {"size": 9}},
        content_type="application/merge-patch+json",
    )
    assert patched["spec"]["size"] == 9
    status, deleted = await api.request("DELETE", f"{WIDGETS}/a?dryRun=All")
    assert status == 200
    _, current = await api.request("GET", f"{WIDGETS}/a")
    assert current == created


async def test_pagination_is_consistent(api: API) -> None:
    for name in ("a", "b", "c", "d", "e"):
        await api.create_widget(name)
    _, first = await api.request("GET", f"{WIDGETS}?limit=2")
    assert [item["metadata"]["name"] for item in first["items"]] == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 3
    await api.create_widget("aa")
    names = [item["metadata"]["name"] for item in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        _, page = await api.request("GET", f"{WIDGETS}?limit=2&continue={token}")
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [item["metadata"]["name"] for item in page["items"]]
        token = page["metadata"]["continue"]
        if token:
            assert page["metadata"]["remainingItemCount"] == 5 - len(names)
    assert names == ["a", "b", "c", "d", "e"]


async def test_stale_continue_token_is_rejected(api: API) -> None:
    status, _ = await api.request("GET", f"{WIDGETS}?limit=1&continue=bm9wZQ")
    assert status == 400


async def test_delete_collection_by_label(api: API) -> None:
    await api.create_widget("a", labels={"batch": "1"})
    await api.create_widget("b", labels={"batch": "1"})
    await api.create_widget("c")
    status, answer = await api.request("DELETE", f"{WIDGETS}?labelSelector=batch%3D1")
    assert status == 200
    assert [item["metadata"]["name"] for item in answer["items"]] == ["a", "b"]
    _, listed = await api.request("GET", WIDGETS)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["c"]


async def test_delete_precondition_on_resource_version(api: API) -> None:
    await api.create_widget("a")
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"resourceVersion": "1"}}
    status, answer = await api.request("DELETE", f"{WIDGETS}/a", body)
    assert status == 409
    assert "the ResourceVersion in the precondition (1) does not match" in answer["message"]


async def test_invalid_propagation_policy(api: API) -> None:
    await api.create_widget("a")
    status, _ = await api.request("DELETE", f"{WIDGETS}/a?propagationPolicy=Sideways")
    assert status == 422


async def test_unknown_resource_and_method(api: API) -> None:
    assert (await api.request("GET", "/apis/golden.example.com/v1/namespaces/default/gadgets"))[
        0
    ] == 404
    assert (await api.request("POST", f"{WIDGETS}/a", {}))[0] == 405
    assert (await api.request("GET", "/apis/nope.example.com/v1"))[0] == 404


async def test_events_api_shares_core_events(api: API) -> None:
    body = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e1"},
        "eventTime": "2025-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Widget", "name": "a", "namespace": "default"},
        "note": "hello",
        "reason": "Tested",
        "type": "Normal",
        "action": "Testing",
        "reportingController": "tests",
        "reportingInstance": "tests-1",
    }
    status, created = await api.request(
        "POST", "/apis/events.k8s.io/v1/namespaces/default/events", body
    )
    assert status == 201, created
    assert created["note"] == "hello"
    _, core = await api.request("GET", "/api/v1/namespaces/default/events/e1")
    assert core["message"] == "hello"
    assert core["involvedObject"]["name"] == "a"
    assert core["reportingComponent"] == "tests"
    _, selected = await api.request(
        "GET",
        "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Da,reason%3DTested",
    )
    assert [item["metadata"]["name"] for item in selected["items"]] == ["e1"]


async def test_leases(api: API) -> None:
    path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l"},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15},
    }
    status, created = await api.request("POST", path, body)
    assert status == 201
    assert "generation" not in created["metadata"]
    created["spec"]["holderIdentity"] = "you"
    status, updated = await api.request("PUT", f"{path}/l", created)
    assert status == 200
    assert updated["spec"]["holderIdentity"] == "you"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (
            {"finalizers": "x"},
            "cannot unmarshal string into Go struct field ObjectMeta.metadata.finalizers",
        ),
        (
            {"labels": {"a": 1}},
            "cannot unmarshal object into Go struct field ObjectMeta.metadata.labels",
        ),
        ({"name": 5}, "cannot unmarshal number into Go struct field ObjectMeta.metadata.name"),
    ],
)
async def test_metadata_of_wrong_type_is_bad_request(
    api: API, metadata: dict[str, Any], expected: str
) -> None:
    body = {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "a", **metadata},
        "spec": {"size": 1},
    }
    status, answer = await api.request("POST", WIDGETS, body)
    assert status == 400
    assert expected in answer["message"]


async def test_subresources_allow_only_their_verbs(api: API) -> None:
    await api.create_widget("a")
    assert (await api.request("DELETE", f"{WIDGETS}/a/status"))[0] == 405
    assert (await api.request("GET", f"{WIDGETS}/a/status"))[0] == 200
    assert (await api.request("GET", f"{WIDGETS}/a"))[0] == 200
    assert (await api.request("GET", f"{WIDGETS}/a/scale"))[0] == 404


async def test_writes_need_the_namespace_in_the_url(api: API) -> None:
    body = {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "a", "namespace": "default"},
        "spec": {"size": 1},
    }
    assert (await api.request("POST", "/apis/golden.example.com/v1/widgets", body))[0] == 404
    assert (await api.request("GET", "/apis/golden.example.com/v1/widgets"))[0] == 200


async def test_apply_patch_creates_then_merges(api: API) -> None:
    manifest = (
        "apiVersion: golden.example.com/v1\nkind: Widget\nmetadata: {name: a}\nspec: {size: 2}\n"
    )
    path = f"{WIDGETS}/a?fieldManager=tests"
    status, created = await api.request(
        "PATCH", path, manifest, content_type="application/apply-patch+yaml"
    )
    assert status == 201
    assert created["spec"]["size"] == 2
    status, applied = await api.request(
        "PATCH", path, manifest.replace("2", "4"), content_type="application/apply-patch+yaml"
    )
    assert status == 200
    assert applied["spec"]["size"] == 4
    status, answer = await api.request(
        "PATCH", f"{WIDGETS}/a", manifest, content_type="application/apply-patch+yaml"
    )
    assert status == 422
    assert answer["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: '
        "fieldManager: Required value: is required for apply patch"
    )
