"""Garbage collection of dependents under each propagation policy."""

from __future__ import annotations

from typing import Any

from tests.apiserver.conftest import API, WIDGETS


def owner_reference(owner: dict[str, Any], *, block: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": block,
    }


async def exists(api: API, name: str) -> bool:
    status, _ = await api.request("GET", f"{WIDGETS}/{name}")
    return status == 200


async def test_background_deletes_dependents_after_owner(api: API) -> None:
    owner = await api.create_widget("owner")
    await api.create_widget("dep", ownerReferences=[owner_reference(owner)])
    status, answer = await api.request("DELETE", f"{WIDGETS}/owner")
    assert status == 200
    assert answer["status"] == "Success"
    await api.server.settle()
    assert not await exists(api, "dep")


async def test_dependent_with_another_live_owner_survives(api: API) -> None:
    first = await api.create_widget("first")
    second = await api.create_widget("second")
    await api.create_widget(
        "dep", ownerReferences=[owner_reference(first), owner_reference(second)]
    )
    await api.request("DELETE", f"{WIDGETS}/first")
    await api.server.settle()
    _, dep = await api.request("GET", f"{WIDGETS}/dep")
    assert [ref["name"] for ref in dep["metadata"]["ownerReferences"]] == ["second"]


async def test_foreground_deletes_dependents_while_owner_is_held(api: API) -> None:
    owner = await api.create_widget("owner", finalizers=["golden.example.com/hold"])
    await api.create_widget("dep", ownerReferences=[owner_reference(owner)])
    status, answer = await api.request("DELETE", f"{WIDGETS}/owner?propagationPolicy=Foreground")
    assert status == 200
    assert answer["metadata"]["finalizers"] == ["golden.example.com/hold", "foregroundDeletion"]
    await api.server.settle()
    assert not await exists(api, "dep")
    _, held = await api.request("GET", f"{WIDGETS}/owner")
    assert held["metadata"]["finalizers"] == ["golden.example.com/hold"]


async def test_foreground_waits_for_blocking_dependents(api: API) -> None:
    owner = await api.create_widget("owner")
    await api.create_widget(
        "dep", ownerReferences=[owner_reference(owner)], finalizers=["golden.example.com/hold"]
    )
    await api.create_widget(
        "loose",
        ownerReferences=[owner_reference(owner, block=False)],
        finalizers=["golden.example.com/hold"],
    )
    await api.request("DELETE", f"{WIDGETS}/owner?propagationPolicy=Foreground")
    await api.server.settle()
    _, dep = await api.request("GET", f"{WIDGETS}/dep")
    assert "deletionTimestamp" in dep["metadata"]
    _, owner_now = await api.request("GET", f"{WIDGETS}/owner")
    assert owner_now["metadata"]["finalizers"] == ["foregroundDeletion"]

    await api.patch(f"{WIDGETS}/dep", {"metadata": {"finalizers": None}})
    await api.server.settle()
    assert not await exists(api, "owner")
    assert await exists(api, "loose")


async def test_orphan_keeps_dependents_without_references(api: API) -> None:
    owner = await api.create_widget("owner")
    await api.create_widget("dep", ownerReferences=[owner_reference(owner)])
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Orphan"}
    status, answer = await api.request("DELETE", f"{WIDGETS}/owner", body)
    assert status == 200
    assert answer["metadata"]["finalizers"] == ["orphan"]
    await api.server.settle()
    assert not await exists(api, "owner")
    _, dep = await api.request("GET", f"{WIDGETS}/dep")
    assert "ownerReferences" not in dep["metadata"]


async def test_dependent_of_a_missing_owner_is_collected(api: API) -> None:
    reference = {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "name": "ghost",
        "uid": "00000000-0000-0000-0000-000000000001",
    }
    await api.create_widget("dep", ownerReferences=[reference])
    await api.server.settle()
    assert not await exists(api, "dep")
