"""
List requests: selectors, ordering and pagination with ``limit`` and ``continue``.

Objects are listed by namespace and name, as etcd returns its keys. A list with
``limit`` returns a ``continue`` token. The following pages come from a snapshot taken
by the first page, so the pages are consistent with its resourceVersion, like etcd's
paginated reads. Snapshots expire after :data:`SNAPSHOT_TTL` seconds, or when more than
:data:`MAX_SNAPSHOTS` are open. An expired token gets 410 Expired, as kube-apiserver
responds to a continue token whose revision was compacted.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import time
from typing import Any

import orjson

from serverops.apiserver import errors, selectors, store
from serverops.apiserver.resources import Object, ResourceType

SNAPSHOT_TTL = 300.0
MAX_SNAPSHOTS = 256


@dataclasses.dataclass
class Page:
    items: list[Object]
    resource_version: int
    continue_token: str
    remaining: int | None


@dataclasses.dataclass
class _Snapshot:
    items: list[Object]
    resource_version: int
    created: float
    filtered: bool  # whether selectors narrowed it; then no remainingItemCount is given


class Lister:
    """Serves list requests and keeps the snapshots of paginated lists."""

    def __init__(self, data: store.Store) -> None:
        self.store = data
        self.snapshots: dict[str, _Snapshot] = {}
        self._ids = itertools.count(1)

    def page(
        self,
        rtype: ResourceType,
        namespace: str | None,
        *,
        label_selector: selectors.LabelSelector,
        field_selector: selectors.FieldSelector,
        limit: int = 0,
        continue_token: str = "",
    ) -> Page:
        if continue_token:
            snapshot_id, offset = self._decode(continue_token)
            snapshot = self.snapshots.get(snapshot_id)
            if snapshot is None:
                raise errors.expired(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter."
                )
            return self._page(snapshot_id, snapshot, offset, limit)
        bucket = self.store.bucket(rtype.key, namespaced=rtype.namespaced)
        items = self._select(rtype, bucket, namespace, label_selector, field_selector)
        filtered = not (label_selector.empty and field_selector.empty)
        snapshot = _Snapshot(items, self.store.resource_version, time.monotonic(), filtered)
        if not limit or len(items) <= limit:
            return Page(items, snapshot.resource_version, "", None)
        snapshot_id = str(next(self._ids))
        self._keep(snapshot_id, snapshot)
        return self._page(snapshot_id, snapshot, 0, limit)

    def _select(
        self,
        rtype: ResourceType,
        bucket: store.Bucket,
        namespace: str | None,
        label_selector: selectors.LabelSelector,
        field_selector: selectors.FieldSelector,
    ) -> list[Object]:
        name = field_selector.exact_name()
        if name is not None and namespace is not None:
            obj = bucket.get(namespace, name)
            candidates = [obj] if obj is not None else []
        else:
            candidates = list(bucket.iterate(namespace))
        if label_selector.empty and field_selector.empty:
            return candidates
        return [
            obj
            for obj in candidates
            if label_selector.matches(obj["metadata"].get("labels"))
            and field_selector.matches(obj, rtype.field_getters)
        ]

    def _page(self, snapshot_id: str, snapshot: _Snapshot, offset: int, limit: int) -> Page:
        end = offset + limit if limit else len(snapshot.items)
        items = snapshot.items[offset:end]
        if end >= len(snapshot.items):
            self.snapshots.pop(snapshot_id, None)
            return Page(items, snapshot.resource_version, "", None)
        token = self._encode(snapshot_id, end, snapshot.resource_version)
        remaining = None if snapshot.filtered else len(snapshot.items) - end
        return Page(items, snapshot.resource_version, token, remaining)

    def _keep(self, snapshot_id: str, snapshot: _Snapshot) -> None:
        now = time.monotonic()
        for key in [
            key for key, value in self.snapshots.items() if now - value.created > SNAPSHOT_TTL
        ]:
            del self.snapshots[key]
        while len(self.snapshots) >= MAX_SNAPSHOTS:
            del self.snapshots[next(iter(self.snapshots))]
        self.snapshots[snapshot_id] = snapshot

    def _encode(self, snapshot_id: str, offset: int, resource_version: int) -> str:
        payload = {
            "v": "meta.k8s.io/v1",
            "rv": resource_version,
            "id": snapshot_id,
            "offset": offset,
        }
        return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")

    def _decode(self, token: str) -> tuple[str, int]:
        try:
            padded = token + "=" * (-len(token) % 4)
            payload: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(padded))
            return str(payload["id"]), int(payload["offset"])
        except (ValueError, KeyError, TypeError):
            raise errors.bad_request(f"continue key is not valid: {token}") from None
