"""
The in-memory object store: objects, the resourceVersion counter and change events.

Objects of one resource (all its versions) live in a :class:`Bucket`, indexed by
namespace and name. Stored objects are never mutated: every write stores a new dict,
so readers may serialize them without copying. Every write takes the next value of one
global resourceVersion counter and appends a :class:`Change` to the bucket's bounded
window, from which watches resume. The change also goes to the bucket's watchers and
to the store's listeners (the built-in controllers).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import orjson

Object = dict[str, Any]
BucketKey = tuple[str, str]  # (group, plural)


@dataclasses.dataclass
class Change:
    """One committed write, as watch events describe it."""

    type: str  # ADDED, MODIFIED or DELETED
    resource_version: int
    bucket: BucketKey
    object: Object
    old: Object | None
    _encoded: dict[str, bytes] = dataclasses.field(default_factory=dict, repr=False)

    def encode(self, api_version: str, present: Callable[[Object], Object]) -> bytes:
        """Serialize the watch event line once per served version, shared by watchers."""
        line = self._encoded.get(api_version)
        if line is None:
            line = orjson.dumps({"type": self.type, "object": present(self.object)}) + b"\n"
            self._encoded[api_version] = line
        return line


class Subscriber(Protocol):
    def deliver(self, change: Change) -> None: ...

    def stop(self) -> None: ...


@dataclasses.dataclass
class Bucket:
    """The objects of one resource, its recent changes and its watchers."""

    key: BucketKey
    namespaced: bool
    window_size: int
    objects: dict[str, dict[str, Object]] = dataclasses.field(default_factory=dict)
    changes: collections.deque[Change] = dataclasses.field(default_factory=collections.deque)
    # Changes at or below this resourceVersion may have left the window.
    window_start: int = 0
    watchers: set[Subscriber] = dataclasses.field(default_factory=set)

    def get(self, namespace: str, name: str) -> Object | None:
        return self.objects.get(namespace, {}).get(name)

    def count(self, namespace: str | None = None) -> int:
        if namespace is not None:
            return len(self.objects.get(namespace, {}))
        return sum(len(names) for names in self.objects.values())

    def iterate(self, namespace: str | None = None) -> Iterator[Object]:
        """Yield objects ordered by namespace and name, as etcd lists its keys."""
        namespaces = [namespace] if namespace is not None else sorted(self.objects)
        for current in namespaces:
            names = self.objects.get(current, {})
            for name in sorted(names):
                yield names[name]

    def record(self, change: Change) -> None:
        self.changes.append(change)
        while len(self.changes) > self.window_size:
            dropped = self.changes.popleft()
            self.window_start = dropped.resource_version
        for watcher in list(self.watchers):
            watcher.deliver(change)

    def changes_since(self, resource_version: int) -> list[Change] | None:
        """Return the changes after a resourceVersion, or None when they left the window."""
        if resource_version < self.window_start:
            return None
        result: list[Change] = []
        for change in reversed(self.changes):
            if change.resource_version <= resource_version:
                break
            result.append(change)
        result.reverse()
        return result

    def oldest_resource_version(self) -> int:
        return self.changes[0].resource_version if self.changes else self.window_start + 1


class Store:
    """All buckets, the resourceVersion counter and the indexes the controllers need."""

    def __init__(self, *, window_size: int = 10_000) -> None:
        self.window_size = window_size
        self.resource_version = 0
        self.buckets: dict[BucketKey, Bucket] = {}
        self.listeners: list[Callable[[Change], None]] = []
        # uid -> (bucket, namespace, name) of every stored object.
        self.by_uid: dict[str, tuple[BucketKey, str, str]] = {}
        # owner uid -> identities of the objects whose ownerReferences name it.
        self.dependents: dict[str, set[tuple[BucketKey, str, str]]] = {}

    def bucket(self, key: BucketKey, *, namespaced: bool) -> Bucket:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = Bucket(key, namespaced, self.window_size, window_start=self.resource_version)
            self.buckets[key] = bucket
        return bucket

    def drop_bucket(self, key: BucketKey) -> None:
        """Forget a resource's objects and end its watches, as when its CRD is removed."""
        bucket = self.buckets.pop(key, None)
        if bucket is not None:
            for watcher in list(bucket.watchers):
                watcher.stop()

    def next_resource_version(self) -> int:
        self.resource_version += 1
        return self.resource_version

    def lookup_uid(self, uid: str) -> Object | None:
        identity = self.by_uid.get(uid)
        if identity is None:
            return None
        key, namespace, name = identity
        bucket = self.buckets.get(key)
        return bucket.get(namespace, name) if bucket else None

    def commit(self, bucket: Bucket, obj: Object, old: Object | None) -> Change:
        """Store a created or updated object under a new resourceVersion."""
        rv = self.next_resource_version()
        metadata = obj["metadata"]
        metadata["resourceVersion"] = str(rv)
        namespace = metadata.get("namespace", "")
        bucket.objects.setdefault(namespace, {})[metadata["name"]] = obj
        identity = (bucket.key, namespace, metadata["name"])
        self.by_uid[metadata["uid"]] = identity
        self._reindex_owners(identity, old, obj)
        change = Change("MODIFIED" if old else "ADDED", rv, bucket.key, obj, old)
        self._publish(bucket, change)
        return change

    def remove(self, bucket: Bucket, obj: Object) -> Change:
        """Remove an object for good; the DELETED event carries a new resourceVersion."""
        rv = self.next_resource_version()
        metadata = obj["metadata"]
        namespace = metadata.get("namespace", "")
        names = bucket.objects.get(namespace, {})
        names.pop(metadata["name"], None)
        if not names:
            bucket.objects.pop(namespace, None)
        self.by_uid.pop(metadata["uid"], None)
        identity = (bucket.key, namespace, metadata["name"])
        self._reindex_owners(identity, obj, None)
        final = {**obj, "metadata": {**metadata, "resourceVersion": str(rv)}}
        change = Change("DELETED", rv, bucket.key, final, obj)
        self._publish(bucket, change)
        return change

    def _publish(self, bucket: Bucket, change: Change) -> None:
        bucket.record(change)
        for listener in self.listeners:
            listener(change)

    def _reindex_owners(
        self, identity: tuple[BucketKey, str, str], old: Object | None, new: Object | None
    ) -> None:
        old_owners = _owner_uids(old)
        new_owners = _owner_uids(new)
        for uid in old_owners - new_owners:
            dependents = self.dependents.get(uid)
            if dependents is not None:
                dependents.discard(identity)
                if not dependents:
                    del self.dependents[uid]
        for uid in new_owners - old_owners:
            self.dependents.setdefault(uid, set()).add(identity)


def _owner_uids(obj: Object | None) -> set[str]:
    if not obj:
        return set()
    references = obj["metadata"].get("ownerReferences") or []
    return {
        reference["uid"]
        for reference in references
        if isinstance(reference, dict) and "uid" in reference
    }
