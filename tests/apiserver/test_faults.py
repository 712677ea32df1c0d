"""Fault injection and request counters, in Python and over the debug HTTP paths."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.apiserver.conftest import API, WIDGETS


async def test_error_fault_on_nth_match(api: API) -> None:
    api.server.faults.add(
        verb="create",
        resource="widgets",
        after=1,
        status=503,
        reason="ServiceUnavailable",
        message="down",
    )
    await api.create_widget("a")
    body = {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "b"},
        "spec": {"size": 1},
    }
    status, answer = await api.request("POST", WIDGETS, body)
    assert status == 503
    assert answer["reason"] == "ServiceUnavailable"
    assert (await api.request("GET", f"{WIDGETS}/b"))[0] == 404
    await api.create_widget("c")


async def test_hold_before_then_release(api: API) -> None:
    await api.create_widget("a")
    rule = api.server.faults.add(action="hold", verb="patch", name="a")
    request = asyncio.create_task(api.patch(f"{WIDGETS}/a", {"spec": {"size": 7}}))
    held = await api.server.faults.wait_held(rule.id)
    assert held[0]["verb"] == "patch"
    _, current = await api.request("GET", f"{WIDGETS}/a")
    assert current["spec"]["size"] == 3
    assert api.server.faults.release(rule.id) == 1
    status, patched = await request
    assert status == 200
    assert patched["spec"]["size"] == 7


async def test_hold_before_then_drop_does_not_apply(api: API) -> None:
    await api.create_widget("a")
    rule = api.server.faults.add(action="hold", verb="patch")
    request = asyncio.create_task(api.patch(f"{WIDGETS}/a", {"spec": {"size": 7}}))
    await api.server.faults.wait_held(rule.id)
    api.server.faults.drop(rule.id)
    try:
        await request
        raised = False
    except aiohttp.ClientError:
        raised = True
    assert raised
    _, current = await api.request("GET", f"{WIDGETS}/a")
    assert current["spec"]["size"] == 3


async def test_hold_after_then_drop_applies_without_answer(api: API) -> None:
    await api.create_widget("a")
    rule = api.server.faults.add(action="hold", phase="after", verb="patch", user_agent="crashy/")
    request = asyncio.create_task(
        api.request(
            "PATCH",
            f"{WIDGETS}/a",
            {"spec": {"size": 6}},
            content_type="application/merge-patch+json",
            headers={"User-Agent": "crashy/1.0"},
        )
    )
    await api.server.faults.wait_held(rule.id)
    _, current = await api.request("GET", f"{WIDGETS}/a")
    assert current["spec"]["size"] == 6
    api.server.faults.drop(rule.id)
    try:
        await request
        raised = False
    except aiohttp.ClientError:
        raised = True
    assert raised


async def test_faults_over_http(api: API) -> None:
    await api.create_widget("a")
    async with api.session.post(
        "/debug/serverops/faults", json={"action": "hold", "verb": "patch", "resource": "widgets"}
    ) as response:
        assert response.status == 201
        rule_id = (await response.json())["id"]
    request = asyncio.create_task(api.patch(f"{WIDGETS}/a", {"spec": {"size": 5}}))
    async with api.session.post(f"/debug/serverops/faults/{rule_id}/wait?timeout=5") as response:
        assert response.status == 200
        held = (await response.json())["heldRequests"]
    assert held[0]["name"] == "a"
    async with api.session.post(f"/debug/serverops/faults/{rule_id}/release") as response:
        assert (await response.json()) == {"released": 1}
    assert (await request)[0] == 200
    async with api.session.get(f"/debug/serverops/faults/{rule_id}") as response:
        rule = await response.json()
    assert rule["matched"] == 1
    assert rule["fired"] == 1
    async with api.session.post(f"/debug/serverops/faults/{rule_id}/wait?timeout=0.01") as response:
        assert response.status == 504
    async with api.session.delete("/debug/serverops/faults") as response:
        assert (await response.json()) == {"faults": []}


async def test_request_counters(api: API) -> None:
    api.server.stats.reset()
    await api.create_widget("a")
    await api.patch(
        f"{WIDGETS}/a/status",
        {"status": {"status": "ACTIVE"}},
    )
    await api.request("GET", f"{WIDGETS}/nope")
    await api.request("GET", "/version")
    stats = api.server.stats
    assert stats.count(verb="create", resource="widgets") == 1
    assert stats.count(verb="patch", resource="widgets", subresource="status", name="a") == 1
    assert stats.count(verb="get", code=404) == 1
    assert stats.count(path="/version") == 1
    assert stats.count(user_agent_prefix="kopf/") == 0

    async with api.session.get("/debug/serverops/requests") as response:
        counters = await response.json()
    assert counters["total"] == 4
    assert {
        "verb",
        "resource",
        "subresource",
        "namespace",
        "name",
        "userAgent",
        "code",
        "count",
    } <= set(counters["requests"][0])
    async with api.session.delete("/debug/serverops/requests"):
        pass
    assert stats.total == 0
