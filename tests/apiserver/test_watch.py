"""Watch streams: initial events, resume, selectors, bookmarks, 410 and timeouts."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from serverops.apiserver import LocalAPIServer
from tests.apiserver.conftest import API, WIDGETS


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    events = []
    while len(events) < count:
        line = await response.content.readline()
        if not line:
            break
        events.append(json.loads(line))
    return events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(event["type"], event["object"]["metadata"].get("name", "")) for event in events]


async def test_watch_without_version_starts_with_current_objects(api: API) -> None:
    await api.create_widget("a")
    await api.create_widget("b")
    async with api.session.get(
        WIDGETS, params={"watch": "true", "timeoutSeconds": "5"}
    ) as response:
        assert response.status == 200
        events = await read_events(response, 2)
        await api.create_widget("c")
        events += await read_events(response, 1)
    assert summary(events) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]


async def test_watch_resumes_after_a_list(api: API) -> None:
    await api.create_widget("a")
    _, listed = await api.request("GET", WIDGETS)
    version = listed["metadata"]["resourceVersion"]
    await api.create_widget("b")
    await api.patch(f"{WIDGETS}/b", {"spec": {"size": 4}})
    await api.request("DELETE", f"{WIDGETS}/b")
    params = {"watch": "1", "resourceVersion": version, "timeoutSeconds": "5"}
    async with api.session.get(WIDGETS, params=params) as response:
        events = await read_events(response, 3)
    assert summary(events) == [("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "b")]
    versions = [int(event["object"]["metadata"]["resourceVersion"]) for event in events]
    assert versions == sorted(versions)
    assert versions[0] > int(version)


async def test_label_selector_turns_changes_into_added_and_deleted(api: API) -> None:
    await api.create_widget("a")
    params = {"watch": "true", "labelSelector": "tier=front", "timeoutSeconds": "5"}
    async with api.session.get(WIDGETS, params=params) as response:
        await api.patch(f"{WIDGETS}/a", {"metadata": {"labels": {"tier": "front"}}})
        await api.patch(f"{WIDGETS}/a", {"spec": {"size": 5}})
        await api.patch(f"{WIDGETS}/a", {"metadata": {"labels": {"tier": "back"}}})
        events = await read_events(response, 3)
    assert summary(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


async def test_field_selector_on_name(api: API) -> None:
    params = {"watch": "true", "fieldSelector": "metadata.name=b", "timeoutSeconds": "5"}
    async with api.session.get(WIDGETS, params=params) as response:
        await api.create_widget("a")
        await api.create_widget("b")
        events = await read_events(response, 1)
    assert summary(events) == [("ADDED", "b")]


async def test_finalized_object_gives_modified_then_deleted(api: API) -> None:
    await api.create_widget("a", finalizers=["golden.example.com/hold"])
    async with api.session.get(
        WIDGETS, params={"watch": "true", "resourceVersion": "0"}
    ) as response:
        await read_events(response, 1)
        await api.request("DELETE", f"{WIDGETS}/a")
        await api.patch(f"{WIDGETS}/a", {"metadata": {"finalizers": None}})
        events = await read_events(response, 2)
    assert summary(events) == [("MODIFIED", "a"), ("DELETED", "a")]
    assert "deletionTimestamp" in events[0]["object"]["metadata"]


async def test_too_old_version_is_expired() -> None:
    path = "/api/v1/namespaces/default/events"
    async with (
        LocalAPIServer(watch_window=2) as server,
        aiohttp.ClientSession(base_url=server.url) as session,
    ):
        version = (await (await session.get(path)).json())["metadata"]["resourceVersion"]
        for index in range(3):
            body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"e{index}"}}
            assert (await session.post(path, json=body)).status == 201
        async with session.get(
            path, params={"watch": "true", "resourceVersion": version}
        ) as response:
            assert response.status == 200
            events = await read_events(response, 2)
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {version} (")


async def test_bookmarks_carry_the_current_version() -> None:
    params = {"watch": "true", "allowWatchBookmarks": "true", "resourceVersion": "0"}
    path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    async with (
        LocalAPIServer(bookmark_interval=0.05) as server,
        aiohttp.ClientSession(base_url=server.url) as session,
    ):
        async with session.get(path, params=params) as response:
            events = await read_events(response, 2)
    assert [event["type"] for event in events] == ["BOOKMARK", "BOOKMARK"]
    assert events[0]["object"]["kind"] == "Lease"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= 4


async def test_initial_events_end_with_an_annotated_bookmark(api: API) -> None:
    await api.create_widget("a")
    params = {
        "watch": "true",
        "sendInitialEvents": "true",
        "allowWatchBookmarks": "true",
        "resourceVersionMatch": "NotOlderThan",
    }
    async with api.session.get(WIDGETS, params=params) as response:
        events = await read_events(response, 2)
    assert summary(events)[0] == ("ADDED", "a")
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_timeout_ends_the_stream(api: API) -> None:
    async with api.session.get(
        WIDGETS, params={"watch": "true", "timeoutSeconds": "0"}
    ) as response:
        assert await response.content.read() == b""


@pytest.mark.parametrize("accept", ["application/json;as=Table;v=v1;g=meta.k8s.io"])
async def test_watch_as_table(api: API, accept: str) -> None:
    params = {"watch": "true", "timeoutSeconds": "5"}
    async with api.session.get(WIDGETS, params=params, headers={"Accept": accept}) as response:
        await api.create_widget("a")
        line = await response.content.readline()
    event = json.loads(line)
    assert event["type"] == "ADDED"
    assert event["object"]["kind"] == "Table"
    assert event["object"]["rows"][0]["cells"][0] == "a"
