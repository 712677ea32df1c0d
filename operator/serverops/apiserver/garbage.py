"""
The garbage collector: ownerReferences under each propagation policy.

It follows kube-controller-manager's garbage collector:

* An object whose owners are all gone (no object with the owner's uid in the
  dependent's namespace) is deleted, in the background unless its own finalizers ask
  for another policy.
* An owner deleted in the foreground (``foregroundDeletion`` finalizer) gets its
  dependents deleted at once, even while other finalizers still hold the owner. The
  finalizer is removed when no dependent with ``blockOwnerDeletion: true`` remains.
* An owner deleted with the Orphan policy (``orphan`` finalizer) gets its reference
  removed from every dependent, then the finalizer removed.
* A dependent that still has a live owner only loses its references to absent owners
  and to owners waiting for their dependents' deletion.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, cast

from serverops.apiserver import catalog, controllers, deletion, store
from serverops.apiserver.registry import Registry, copy_object
from serverops.apiserver.resources import Object

Identity = tuple[tuple[str, str], str, str]  # (bucket, namespace, name)


def _is_deleting_dependents(obj: Object | None) -> bool:
    if obj is None:
        return False
    meta = obj["metadata"]
    return bool(meta.get("deletionTimestamp")) and deletion.FOREGROUND in (
        meta.get("finalizers") or []
    )


class GarbageCollector(controllers.Controller):
    """Deletes dependents of deleted owners and releases owners' GC finalizers."""

    name = "garbage-collector"

    def __init__(self, registry: Registry, catalog_: catalog.Catalog) -> None:
        super().__init__()
        self.registry = registry
        self.catalog = catalog_
        self.store = registry.store

    def identity(self, change: store.Change) -> Identity:
        meta = change.object["metadata"]
        return (change.bucket, meta.get("namespace", ""), meta["name"])

    def observe(self, change: store.Change) -> None:
        meta = change.object["metadata"]
        if change.type == "DELETED":
            for dependent in self.store.dependents.get(meta["uid"], ()):
                self.enqueue(("dependent", dependent))
            for owner_uid in _owner_uids(change.object):
                owner = self.store.lookup_uid(owner_uid)
                if _is_deleting_dependents(owner):
                    self.enqueue(("owner", self.store.by_uid[owner_uid]))
            return
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp") and (
            deletion.FOREGROUND in finalizers or deletion.ORPHAN in finalizers
        ):
            self.enqueue(("owner", self.identity(change)))
        if meta.get("ownerReferences") and not meta.get("deletionTimestamp"):
            namespace = meta.get("namespace", "")
            for owner_uid in _owner_uids(change.object):
                owner = self._owner(owner_uid, namespace)
                if owner is None or _is_deleting_dependents(owner):
                    self.enqueue(("dependent", self.identity(change)))
                    break

    def _owner(self, uid: str, namespace: str) -> Object | None:
        identity = self.store.by_uid.get(uid)
        if identity is None:
            return None
        _, owner_namespace, _ = identity
        if owner_namespace and owner_namespace != namespace:
            return None  # owners must live in the dependent's namespace or be cluster-scoped
        return self.store.lookup_uid(uid)

    def _get(self, identity: Identity) -> Object | None:
        key, namespace, name = identity
        bucket = self.store.buckets.get(key)
        return bucket.get(namespace, name) if bucket else None

    def process(self, key: Hashable) -> None:
        role, identity = cast(tuple[str, Identity], key)
        if role == "owner":
            self._process_owner(identity)
        else:
            self._process_dependent(identity)

    def _process_dependent(self, identity: Identity) -> None:
        obj = self._get(identity)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        meta = obj["metadata"]
        solid, stale, waiting = [], [], []
        for reference in meta.get("ownerReferences") or []:
            owner = self._owner(reference.get("uid", ""), meta.get("namespace", ""))
            if owner is None:
                stale.append(reference["uid"])
            elif _is_deleting_dependents(owner):
                waiting.append(reference["uid"])
            else:
                solid.append(reference["uid"])
        if solid:
            if stale or waiting:
                self._remove_references(identity, set(stale) | set(waiting))
            return
        has_dependents = bool(self.store.dependents.get(meta["uid"]))
        finalizers = meta.get("finalizers") or []
        if waiting and has_dependents:
            policy = "Foreground"
        elif deletion.ORPHAN in finalizers:
            policy = "Orphan"
        elif deletion.FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        self._delete(identity, {"propagationPolicy": policy})

    def _process_owner(self, identity: Identity) -> None:
        owner = self._get(identity)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        meta = owner["metadata"]
        dependents = sorted(self.store.dependents.get(meta["uid"], ()))
        finalizers = meta.get("finalizers") or []
        if deletion.ORPHAN in finalizers:
            for dependent in dependents:
                self._remove_references(dependent, {meta["uid"]})
            self._remove_finalizer(identity, deletion.ORPHAN)
            return
        if deletion.FOREGROUND not in finalizers:
            return
        blocking = False
        for dependent in dependents:
            obj = self._get(dependent)
            if obj is None:
                continue
            if not obj["metadata"].get("deletionTimestamp"):
                self._process_dependent(dependent)
            if self._blocks(dependent, meta["uid"]):
                blocking = True
        if not blocking:
            self._remove_finalizer(identity, deletion.FOREGROUND)

    def _blocks(self, identity: Identity, owner_uid: str) -> bool:
        obj = self._get(identity)
        if obj is None:
            return False
        return any(
            reference.get("uid") == owner_uid and reference.get("blockOwnerDeletion")
            for reference in obj["metadata"].get("ownerReferences") or []
        )

    def _write(self, identity: Identity, obj: Object) -> None:
        rtype = self.catalog.for_bucket(identity[0])
        if rtype is None:
            return
        self.registry.update(rtype, identity[1], identity[2], rtype.present(obj), self.context)

    def _delete(self, identity: Identity, options: dict[str, Any]) -> None:
        rtype = self.catalog.for_bucket(identity[0])
        if rtype is not None:
            deletion.delete(self.registry, rtype, identity[1], identity[2], options, self.context)

    def _remove_references(self, identity: Identity, owner_uids: set[str]) -> None:
        obj = self._get(identity)
        if obj is None:
            return
        body = copy_object(obj)
        references = [
            reference
            for reference in body["metadata"].get("ownerReferences") or []
            if reference.get("uid") not in owner_uids
        ]
        if references:
            body["metadata"]["ownerReferences"] = references
        else:
            body["metadata"].pop("ownerReferences", None)
        self._write(identity, body)

    def _remove_finalizer(self, identity: Identity, finalizer: str) -> None:
        obj = self._get(identity)
        if obj is None:
            return
        body = copy_object(obj)
        body["metadata"]["finalizers"] = [
            item for item in body["metadata"].get("finalizers") or [] if item != finalizer
        ]
        self._write(identity, body)


def _owner_uids(obj: Object) -> list[str]:
    return [
        reference["uid"]
        for reference in obj["metadata"].get("ownerReferences") or []
        if isinstance(reference, dict) and reference.get("uid")
    ]
