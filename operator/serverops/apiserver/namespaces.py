"""
The namespace controller: deletion of a terminating namespace's content.

As kube-controller-manager's namespace controller does, it deletes every object in a
namespace that has a ``deletionTimestamp``, reports progress in the namespace's status
conditions (which resources and which finalizers remain), and once nothing remains it
removes the ``kubernetes`` finalizer from ``spec.finalizers`` through the ``finalize``
subresource, which lets the namespace go.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable
from typing import Any

from serverops.apiserver import builtins, catalog, controllers, deletion, errors, store
from serverops.apiserver.registry import Registry, copy_object
from serverops.apiserver.resources import Object, ResourceType

NAMESPACES = ("", "namespaces")


def _condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def _conditions(remaining: dict[str, int], finalizers: dict[str, int]) -> list[dict[str, str]]:
    conditions = [
        _condition(
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered",
        ),
        _condition(
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        _condition(
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
    ]
    if remaining:
        listed = ", ".join(
            f"{name} has {count} resource instances" for name, count in sorted(remaining.items())
        )
        conditions.append(
            _condition(
                "NamespaceContentRemaining",
                "True",
                "SomeResourcesRemain",
                f"Some resources are remaining: {listed}",
            )
        )
    else:
        conditions.append(
            _condition(
                "NamespaceContentRemaining",
                "False",
                "ContentRemoved",
                "All content successfully removed",
            )
        )
    if finalizers:
        listed = ", ".join(
            f"{name} in {count} resource instances" for name, count in sorted(finalizers.items())
        )
        message = f"Some content in the namespace has finalizers remaining: {listed}"
        conditions.append(
            _condition("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", message)
        )
    else:
        conditions.append(
            _condition(
                "NamespaceFinalizersRemaining",
                "False",
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished",
            )
        )
    return conditions


class NamespaceController(controllers.Controller):
    """Empties terminating namespaces and then finalizes them."""

    name = "namespace-controller"

    def __init__(
        self, registry: Registry, catalog_: catalog.Catalog, namespace_type: ResourceType
    ) -> None:
        super().__init__()
        self.registry = registry
        self.catalog = catalog_
        self.namespace_type = namespace_type

    def observe(self, change: store.Change) -> None:
        meta = change.object["metadata"]
        if change.bucket == NAMESPACES:
            if meta.get("deletionTimestamp") and change.type != "DELETED":
                self.enqueue(meta["name"])
            return
        namespace = meta.get("namespace")
        if namespace and change.type == "DELETED":
            owner = self.registry.bucket(self.namespace_type).get("", namespace)
            if owner is not None and owner["metadata"].get("deletionTimestamp"):
                self.enqueue(namespace)

    def process(self, key: Hashable) -> None:
        name = str(key)
        namespace = self.registry.bucket(self.namespace_type).get("", name)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        remaining, finalizers = self._delete_content(name)
        self._report(namespace, remaining, finalizers)
        if not remaining:
            self._finalize(name)

    def _delete_content(self, namespace: str) -> tuple[dict[str, int], dict[str, int]]:
        remaining: dict[str, int] = collections.Counter()
        finalizers: dict[str, int] = collections.Counter()
        for key, bucket in list(self.registry.store.buckets.items()):
            if not bucket.namespaced or not bucket.count(namespace):
                continue
            rtype = self.catalog.for_bucket(key)
            if rtype is None:
                continue
            for obj in list(bucket.iterate(namespace)):
                if not obj["metadata"].get("deletionTimestamp"):
                    self._delete(rtype, namespace, obj["metadata"]["name"])
            left = list(bucket.iterate(namespace))
            if left:
                remaining[errors.qualified(key[1], key[0])] += len(left)
            for obj in left:
                for finalizer in obj["metadata"].get("finalizers") or []:
                    finalizers[finalizer] += 1
        return dict(remaining), dict(finalizers)

    def _delete(self, rtype: ResourceType, namespace: str, name: str) -> None:
        options = {"propagationPolicy": "Background"}
        try:
            deletion.delete(self.registry, rtype, namespace, name, options, self.context)
        except errors.APIError as error:
            if error.code != 404:
                raise

    def _report(
        self, namespace: Object, remaining: dict[str, int], finalizers: dict[str, int]
    ) -> None:
        status = copy_object(namespace.get("status") or {})
        previous = {condition["type"]: condition for condition in status.get("conditions") or []}
        now = self.registry.now()
        conditions: list[dict[str, Any]] = []
        for condition in _conditions(remaining, finalizers):
            old = previous.get(condition["type"])
            same = old is not None and old.get("status") == condition["status"]
            moment = old.get("lastTransitionTime", now) if same and old else now
            conditions.append({**condition, "lastTransitionTime": moment})
        if conditions == status.get("conditions"):
            return
        status["conditions"] = conditions
        body = {**namespace, "status": status}
        self.registry.update(
            self.namespace_type,
            "",
            namespace["metadata"]["name"],
            body,
            self.context,
            subresource="status",
        )

    def _finalize(self, name: str) -> None:
        namespace = self.registry.bucket(self.namespace_type).get("", name)
        if namespace is None:
            return
        body = copy_object(namespace)
        finalizers = body.get("spec", {}).get("finalizers") or []
        body["spec"]["finalizers"] = [
            item for item in finalizers if item != builtins.NAMESPACE_FINALIZER
        ]
        self.registry.update(
            self.namespace_type, "", name, body, self.context, subresource="finalize"
        )
