"""Counting the operator's API requests: exactly, or from what a watch can see.

On the local API server the request counters (``/debug/serverops/requests``) give every
request with its user agent, so the operator's own are those whose user agent starts
with ``serverops/`` (its own client) or ``kopf/`` (kopf's). A real cluster has no such
endpoint: :class:`WatchTally` then counts the changes that the operator's writes leave
on the watched objects, which misses reads, writes that change nothing and failed writes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import time
from collections.abc import Iterable
from typing import Any

from benchmarks.kube import Body, Kube

OPERATOR_AGENTS = ("serverops/", "kopf/")
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
READ_VERBS = frozenset({"get", "list"})


@dataclasses.dataclass
class Tally:
    """The operator's requests in one measurement, by kind and by verb and resource."""

    writes: float = 0
    events: float = 0
    reads: float = 0
    watches: float = 0
    by_request: dict[str, float] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(float)
    )
    exact: bool = True
    """False when counted from a watch: reads and writes that change nothing are missed."""

    def per(self, count: int) -> Tally:
        """Return the tally divided by ``count`` (per deletion), as floats."""
        return Tally(
            writes=self.writes / count,
            events=self.events / count,
            reads=self.reads / count,
            watches=self.watches / count,
            by_request={key: value / count for key, value in self.by_request.items()},
            exact=self.exact,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "writes": self.writes,
            "events": self.events,
            "reads": self.reads if self.exact else None,
            "watches": self.watches if self.exact else None,
            "by_request": dict(sorted(self.by_request.items())),
            "exact": self.exact,
        }


def request_label(record: dict[str, Any]) -> str:
    """Name a request as ``verb resource[/subresource]``, e.g. ``patch ports/status``."""
    resource = record.get("resource") or record.get("path") or "?"
    if record.get("subresource"):
        resource += "/" + record["subresource"]
    return f"{record['verb']} {resource}"


def tally_requests(records: Iterable[dict[str, Any]], *, namespace: str = "") -> Tally:
    """Tally the operator's requests among the debug endpoint's records.

    With ``namespace``, writes and reads in other namespaces are left out (a cluster-wide
    watch or list has no namespace, and counts everywhere).
    """
    tally = Tally()
    for record in records:
        if not str(record.get("userAgent", "")).startswith(OPERATOR_AGENTS):
            continue
        if namespace and record.get("namespace") not in ("", namespace):
            continue
        verb = record["verb"]
        count = int(record["count"])
        if verb == "watch":
            tally.watches += count
            continue
        if verb in WRITE_VERBS and record.get("resource") == "events":
            tally.events += count
        elif verb in WRITE_VERBS:
            tally.writes += count
        elif verb in READ_VERBS:
            tally.reads += count
        else:
            continue
        tally.by_request[request_label(record)] += count
    return tally


class WatchTally:
    """Count the operator's writes from watch events on servers, ports, deletedservers
    and Events of one namespace.

    Each ADDED, MODIFIED and DELETED is one write. A finalizer's removal can show as a
    MODIFIED (the last finalizer gone) followed by a DELETED, which is one write, so a
    MODIFIED of a terminating object without finalizers is not counted. The watch
    also reports the caller's own writes, which the caller subtracts.
    """

    PLURALS = ("servers", "ports", "deletedservers", "events")

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.changes: collections.Counter[str] = collections.Counter()
        self.last_change = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for plural in self.PLURALS:
            listing = await self.kube.request(
                "GET", self.kube.path(plural, self.namespace), params={"limit": "1"}
            )
            version = listing.get("metadata", {}).get("resourceVersion", "")
            self._tasks.append(asyncio.create_task(self._follow(plural, version)))

    async def _follow(self, plural: str, version: str) -> None:
        async for event in self.kube.watch(plural, self.namespace, resource_version=version):
            kind = event.get("type")
            body: Body = event.get("object") or {}
            if kind not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            metadata = body.get("metadata", {})
            if (
                kind == "MODIFIED"
                and metadata.get("deletionTimestamp")
                and not metadata.get("finalizers")
            ):
                continue
            if plural == "events" and not _from_operator(body):
                continue
            verb = {"ADDED": "create", "MODIFIED": "modify", "DELETED": "delete"}[kind]
            self.changes[f"{verb} {plural}"] += 1
            self.last_change = time.monotonic()

    def reset(self) -> None:
        self.changes.clear()

    def tally(self, *, own_writes: dict[str, int]) -> Tally:
        """Return the writes seen, less the caller's ``own_writes`` (by ``verb plural``)."""
        tally = Tally(exact=False)
        for label, count in self.changes.items():
            count -= own_writes.get(label, 0)
            if count <= 0:
                continue
            tally.by_request[label] += count
            if label.endswith(" events"):
                tally.events += count
            else:
                tally.writes += count
        return tally

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _from_operator(event: Body) -> bool:
    source = (event.get("source") or {}).get("component", "")
    return "serverops" in (event.get("reportingComponent") or "") or "serverops" in source
