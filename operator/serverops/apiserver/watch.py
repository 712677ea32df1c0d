"""
Watch streams: newline-delimited JSON events over a chunked HTTP response.

A watch from a resourceVersion (such as a list's) replays the changes after it from the
bucket's window. A watch with no version (or ``0``) first sends every current object as
ADDED. A version older than the window gets one ERROR event with a 410 Expired Status,
inside a 200 response, as kube-apiserver does. Selectors are applied to both the old
and the new state, so an object that starts or stops matching arrives as ADDED or
DELETED. With ``allowWatchBookmarks=true``, a BOOKMARK with the current resourceVersion
is sent every ``bookmark_interval`` seconds. With ``sendInitialEvents=true``, a bookmark
annotated ``k8s.io/initial-events-end`` ends the initial events. The stream ends after
``timeoutSeconds``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from serverops.apiserver import errors, selectors, store
from serverops.apiserver.resources import Object, ResourceType

logger = logging.getLogger(__name__)

_STOP = b""


@dataclasses.dataclass
class WatchRequest:
    """The parameters of one watch, parsed from the query."""

    rtype: ResourceType
    namespace: str | None
    label_selector: selectors.LabelSelector
    field_selector: selectors.FieldSelector
    resource_version: int | None
    bookmarks: bool
    initial_events_end: bool
    timeout: float
    # Renders each event's object for the client, e.g. as a Table; None sends objects.
    transform: Callable[[Object], Object] | None = None


class Watcher:
    """One client's subscription to a bucket; events queue up as encoded lines."""

    def __init__(self, request: WatchRequest) -> None:
        self.request = request
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.filtered = not (request.label_selector.empty and request.field_selector.empty)

    def matches(self, obj: Object | None) -> bool:
        if obj is None:
            return False
        request = self.request
        meta = obj["metadata"]
        if request.namespace is not None and meta.get("namespace") != request.namespace:
            return False
        if not self.filtered:
            return True
        return request.label_selector.matches(
            meta.get("labels")
        ) and request.field_selector.matches(obj, request.rtype.field_getters)

    def deliver(self, change: store.Change) -> None:
        """Queue a change, or the ADDED/DELETED it becomes under this watch's selectors."""
        if change.type == "DELETED":
            if self.matches(change.old):
                self.queue.put_nowait(self.encode_change(change))
            return
        now = self.matches(change.object)
        before = change.type == "MODIFIED" and self.matches(change.old)
        if now and (before or change.type == "ADDED"):
            self.queue.put_nowait(self.encode_change(change))
        elif now:
            self.queue.put_nowait(self.encode("ADDED", change.object))
        elif before:
            self.queue.put_nowait(self.encode("DELETED", change.object))

    def encode_change(self, change: store.Change) -> bytes:
        rtype = self.request.rtype
        if self.request.transform is None:
            return change.encode(rtype.api_version, rtype.present)
        return self.encode(change.type, change.object)

    def encode(self, event_type: str, obj: Object) -> bytes:
        presented = self.request.rtype.present(obj)
        if self.request.transform is not None:
            presented = self.request.transform(presented)
        return orjson.dumps({"type": event_type, "object": presented}) + b"\n"

    def bookmark(self, resource_version: int, *, initial_events_end: bool = False) -> bytes:
        rtype = self.request.rtype
        meta: dict[str, Any] = {"resourceVersion": str(resource_version)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        body = {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta}
        return orjson.dumps({"type": "BOOKMARK", "object": body}) + b"\n"

    def stop(self) -> None:
        self.queue.put_nowait(_STOP)


def _expired_event(requested: int, oldest: int) -> bytes:
    error = errors.expired(f"too old resource version: {requested} ({oldest})")
    status = error.status()
    status.pop("details", None)
    return orjson.dumps({"type": "ERROR", "object": status}) + b"\n"


def start(
    watch_request: WatchRequest, data: store.Store, watchers: set[Watcher]
) -> tuple[Watcher, list[bytes]]:
    """Subscribe a watcher and compute its first lines, with no await in between."""
    watcher = Watcher(watch_request)
    bucket = data.bucket(watch_request.rtype.key, namespaced=watch_request.rtype.namespaced)
    requested = watch_request.resource_version
    lines: list[bytes] = []
    if requested is None or requested == 0:
        for obj in bucket.iterate(watch_request.namespace):
            if watcher.matches(obj):
                lines.append(watcher.encode("ADDED", obj))
        if watch_request.initial_events_end:
            lines.append(watcher.bookmark(data.resource_version, initial_events_end=True))
    else:
        changes = bucket.changes_since(requested)
        if changes is None:
            return watcher, [_expired_event(requested, bucket.oldest_resource_version())]
        for change in changes:
            before = watcher.queue.qsize()
            watcher.deliver(change)
            while watcher.queue.qsize() > before:
                lines.append(watcher.queue.get_nowait())
    bucket.watchers.add(watcher)
    watchers.add(watcher)
    return watcher, lines


def stop(watcher: Watcher, data: store.Store, watchers: set[Watcher]) -> None:
    bucket = data.buckets.get(watcher.request.rtype.key)
    if bucket is not None:
        bucket.watchers.discard(watcher)
    watchers.discard(watcher)


async def serve(
    request: web.Request,
    watch_request: WatchRequest,
    data: store.Store,
    watchers: set[Watcher],
    *,
    bookmark_interval: float,
) -> web.StreamResponse:
    """Stream a watch to the client until the timeout, a disconnect or a server stop."""
    watcher, lines = start(watch_request, data, watchers)
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        if lines:
            await response.write(b"".join(lines))
            if lines[-1].startswith(b'{"type":"ERROR"'):
                return response
        await _pump(response, watcher, data, watch_request, bookmark_interval)
    except ConnectionResetError:
        pass  # the client went away; cancellation on disconnect propagates after cleanup
    finally:
        stop(watcher, data, watchers)
    return response


async def _pump(
    response: web.StreamResponse,
    watcher: Watcher,
    data: store.Store,
    watch_request: WatchRequest,
    bookmark_interval: float,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + watch_request.timeout
    next_bookmark = loop.time() + bookmark_interval
    while True:
        now = loop.time()
        if now >= deadline:
            return
        wait = deadline - now
        if watch_request.bookmarks:
            wait = min(wait, max(0.0, next_bookmark - now))
        try:
            line = await asyncio.wait_for(watcher.queue.get(), timeout=wait)
        except TimeoutError:
            if watch_request.bookmarks and loop.time() >= next_bookmark:
                await response.write(watcher.bookmark(data.resource_version))
                next_bookmark = loop.time() + bookmark_interval
            continue
        if line == _STOP:
            return
        batch = [line]
        while not watcher.queue.empty() and len(batch) < 256:
            line = watcher.queue.get_nowait()
            if line == _STOP:
                await response.write(b"".join(batch))
                return
            batch.append(line)
        await response.write(b"".join(batch))
