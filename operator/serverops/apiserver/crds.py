"""
CustomResourceDefinitions: their built-in kind and the controller that serves them.

Creating a CRD stores it with empty ``acceptedNames`` and no conditions, as
kube-apiserver does. The :class:`CRDController` then accepts its names, marks it
``NamesAccepted`` and ``Established``, and serves every served version with the
version's structural schema, status subresource and printer columns. Deleting a CRD
adds the ``customresourcecleanup.apiextensions.k8s.io`` finalizer. The controller then
deletes all instances, waits for their finalizers, releases the CRD and stops serving
the resource.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

from serverops.apiserver import (
    builtins,
    catalog,
    controllers,
    deletion,
    errors,
    jsonpath,
    patching,
    schema,
    store,
)
from serverops.apiserver.errors import FieldError
from serverops.apiserver.registry import Registry, copy_object
from serverops.apiserver.resources import Object, PrinterColumn, ResourceType, Strategy

GROUP = "apiextensions.k8s.io"
PLURAL = "customresourcedefinitions"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
# The order in which kube-apiserver lists the verbs of custom resources in discovery.
CUSTOM_RESOURCE_VERBS = (
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
)
_COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")


class CRDStrategy(Strategy):
    """Defaults and validation of CustomResourceDefinition objects."""

    def prepare_for_create(self, obj: Object) -> None:
        spec = obj.setdefault("spec", {})
        self._default_spec(spec)
        storage = [
            version.get("name") for version in spec.get("versions", []) if version.get("storage")
        ]
        obj["status"] = {
            "conditions": None,
            "acceptedNames": {"plural": "", "kind": ""},
            "storedVersions": storage,
        }

    def prepare_for_update(self, new: Object, old: Object) -> None:
        self._default_spec(new.setdefault("spec", {}))

    def _default_spec(self, spec: dict[str, Any]) -> None:
        spec.setdefault("conversion", {"strategy": "None"})
        names = spec.get("names")
        if isinstance(names, dict) and names.get("kind"):
            names.setdefault("singular", str(names["kind"]).lower())
            names.setdefault("listKind", f"{names['kind']}List")

    def prepare_for_delete(self, obj: Object) -> None:
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)

    def validate(self, obj: Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group") or ""
        result: list[FieldError] = []
        expected = f"{names.get('plural', '')}.{group}"
        if obj["metadata"].get("name") != expected:
            result.append(
                errors.invalid(
                    "metadata.name",
                    obj["metadata"].get("name"),
                    'must be spec.names.plural+"."+spec.group',
                )
            )
        if not group:
            result.append(errors.required("spec.group"))
        elif "." not in group:
            result.append(
                errors.invalid("spec.group", group, "should be a domain with at least one dot")
            )
        for key in ("plural", "kind", "singular"):
            if not names.get(key):
                result.append(errors.required(f"spec.names.{key}"))
        if spec.get("scope") not in ("Cluster", "Namespaced"):
            result.append(
                errors.not_supported("spec.scope", spec.get("scope"), ["Cluster", "Namespaced"])
            )
        result.extend(_validate_versions(spec.get("versions")))
        return result


def _validate_versions(versions: Any) -> list[FieldError]:
    if not versions:
        return [
            errors.invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        ]
    result: list[FieldError] = []
    if sum(1 for version in versions if version.get("storage")) != 1:
        result.append(
            errors.invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    for index, version in enumerate(versions):
        field = f"spec.versions[{index}]"
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", str(version.get("name", ""))):
            result.append(
                errors.invalid(f"{field}.name", version.get("name"), "must be a DNS-1035 label")
            )
        root = ((version.get("schema") or {}).get("openAPIV3Schema")) or None
        if root is None:
            result.append(
                errors.required(f"{field}.schema.openAPIV3Schema", "schemas are required")
            )
        elif root.get("type") != "object":
            result.append(
                errors.invalid(
                    f"{field}.schema.openAPIV3Schema.type",
                    root.get("type"),
                    "must be object at the root",
                )
            )
        for number, column in enumerate(version.get("additionalPrinterColumns") or []):
            result.extend(_validate_column(f"{field}.additionalPrinterColumns[{number}]", column))
    return result


def _validate_column(field: str, column: dict[str, Any]) -> list[FieldError]:
    result: list[FieldError] = []
    if not column.get("name"):
        result.append(errors.required(f"{field}.name"))
    if column.get("type") not in _COLUMN_TYPES:
        result.append(
            errors.not_supported(f"{field}.type", column.get("type"), list(_COLUMN_TYPES))
        )
    try:
        jsonpath.compile_path(str(column.get("jsonPath", "")))
    except jsonpath.JSONPathError as error:
        result.append(errors.invalid(f"{field}.jsonPath", column.get("jsonPath"), str(error)))
    return result


def crd_type() -> ResourceType:
    return ResourceType(
        group=GROUP,
        version="v1",
        plural=PLURAL,
        singular="customresourcedefinition",
        kind="CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        status_subresource=True,
        patch_meta=patching.OBJECT_META_PATCH_META,
        strategy=CRDStrategy(),
    )


def resource_types(crd: Object) -> list[ResourceType]:
    """Build the served resource types of an accepted CRD, one per served version."""
    spec = crd["spec"]
    names = spec["names"]
    result = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        openapi = (version.get("schema") or {}).get("openAPIV3Schema")
        columns = [
            PrinterColumn(
                column["name"],
                column["type"],
                column["jsonPath"],
                description=column.get("description", ""),
                priority=column.get("priority", 0),
                format=column.get("format", ""),
            )
            for column in version.get("additionalPrinterColumns") or []
        ]
        if not columns:
            columns = [builtins.AGE_COLUMN]
        result.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                singular=names.get("singular", names["kind"].lower()),
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in (version.get("subresources") or {}),
                schema=schema.StructuralSchema(openapi),
                openapi_schema=openapi,
                printer_columns=(builtins.NAME_COLUMN, *columns),
                verbs=CUSTOM_RESOURCE_VERBS,
                custom=True,
            )
        )
    return result


def _condition(
    kind: str, reason: str, message: str, now: str, previous: list[Any]
) -> dict[str, Any]:
    for condition in previous:
        if condition.get("type") == kind and condition.get("status") == "True":
            return {**condition, "reason": reason, "message": message}
    return {
        "type": kind,
        "status": "True",
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


class CRDController(controllers.Controller):
    """Establishes CRDs, serves their resources, and cleans up deleted ones."""

    name = "crd"

    def __init__(self, registry: Registry, catalog_: catalog.Catalog) -> None:
        super().__init__()
        self.registry = registry
        self.catalog = catalog_
        self.crd = crd_type()
        self.served: dict[str, tuple[str, str]] = {}  # CRD name -> (group, plural)

    def observe(self, change: store.Change) -> None:
        if change.bucket == (GROUP, PLURAL):
            self.enqueue(change.object["metadata"]["name"])
        elif change.type == "DELETED":
            for name, key in self.served.items():
                if key == change.bucket:
                    self.enqueue(name)

    def process(self, key: Hashable) -> None:
        name = str(key)
        crd = self.registry.bucket(self.crd).get("", name)
        if crd is None:
            self._stop_serving(name)
            return
        if crd["metadata"].get("deletionTimestamp"):
            self._clean_up(crd)
            return
        self._establish(crd)

    def _establish(self, crd: Object) -> None:
        spec = crd["spec"]
        old_key = self.served.get(crd["metadata"]["name"])
        if old_key is not None and old_key != (spec["group"], spec["names"]["plural"]):
            self.catalog.unregister(*old_key)
        self.catalog.unregister(spec["group"], spec["names"]["plural"])
        for rtype in resource_types(crd):
            self.catalog.register(rtype)
        self.served[crd["metadata"]["name"]] = (spec["group"], spec["names"]["plural"])
        status = copy_object(crd.get("status") or {})
        previous = status.get("conditions") or []
        now = self.registry.now()
        status["acceptedNames"] = {key: value for key, value in spec["names"].items()}
        status["conditions"] = [
            _condition("NamesAccepted", "NoConflicts", "no conflicts found", now, previous),
            _condition(
                "Established",
                "InitialNamesAccepted",
                "the initial names have been accepted",
                now,
                previous,
            ),
        ]
        stored = list(status.get("storedVersions") or [])
        for version in spec["versions"]:
            if version.get("storage") and version["name"] not in stored:
                stored.append(version["name"])
        status["storedVersions"] = stored
        if status != crd.get("status"):
            self._write_status(crd, status)

    def _write_status(self, crd: Object, status: dict[str, Any]) -> None:
        body = {**crd, "status": status}
        self.registry.update(
            self.crd, "", crd["metadata"]["name"], body, self.context, subresource="status"
        )

    def _clean_up(self, crd: Object) -> None:
        """Delete a terminating CRD's instances; release the CRD when none remain."""
        remaining = self._delete_instances(crd)
        self._report_terminating(crd, remaining)
        if remaining:
            return
        current = self.registry.bucket(self.crd).get("", crd["metadata"]["name"]) or crd
        body = copy_object(current)
        body["metadata"]["finalizers"] = [
            item for item in body["metadata"].get("finalizers") or [] if item != CLEANUP_FINALIZER
        ]
        self.registry.update(self.crd, "", crd["metadata"]["name"], body, self.context)

    def _delete_instances(self, crd: Object) -> int:
        rtypes = resource_types(crd)
        if not rtypes:
            return 0
        rtype = rtypes[0]
        bucket = self.registry.bucket(rtype)
        for obj in list(bucket.iterate()):
            meta = obj["metadata"]
            if not meta.get("deletionTimestamp"):
                namespace = meta.get("namespace", "")
                deletion.delete(self.registry, rtype, namespace, meta["name"], {}, self.context)
        return bucket.count()

    def _report_terminating(self, crd: Object, remaining: int) -> None:
        if remaining:
            reason = "InstanceDeletionPending"
            message = f"could not confirm zero CustomResources remaining: {remaining} remain"
        else:
            reason, message = "InstanceDeletionCompleted", "removed all instances"
        status = copy_object(crd.get("status") or {})
        previous = status.get("conditions") or []
        conditions = [c for c in previous if c.get("type") != "Terminating"]
        conditions.append(
            {
                "type": "Terminating",
                "status": "True",
                "lastTransitionTime": self.registry.now(),
                "reason": reason,
                "message": message,
            }
        )
        if [c.get("reason") for c in conditions] != [c.get("reason") for c in previous]:
            status["conditions"] = conditions
            self._write_status(crd, status)

    def _stop_serving(self, name: str) -> None:
        key = self.served.pop(name, None)
        if key is not None:
            self.catalog.unregister(*key)
            self.registry.store.drop_bucket(key)
