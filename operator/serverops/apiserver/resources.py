"""
Resource types served by the local API server.

A :class:`ResourceType` describes one served resource (one group, version and plural).
It contains the names for discovery, the scope, the subresources and patch types, the
table columns and the supported field selectors. Its :class:`Strategy` hooks default
and validate the objects. Built-in kinds are declared in
:mod:`serverops.apiserver.builtins`; custom resources get theirs from their CRD.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from serverops.apiserver import events, patching, schema, selectors
from serverops.apiserver.errors import FieldError

Object = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = {"status": ("get", "patch", "update"), "finalize": ("update",)}


@dataclasses.dataclass(frozen=True)
class PrinterColumn:
    """A table column: a JSONPath into the object, or a function of the object and now."""

    name: str
    type: str
    json_path: str = ""
    description: str = ""
    priority: int = 0
    format: str = ""
    compute: Callable[[Mapping[str, Any], float], Any] | None = None


class Strategy:
    """Kind-specific steps of writes; the defaults suit custom resources."""

    def type_problem(self, obj: Object) -> str | None:
        """Describe a field that cannot be decoded into the kind's type (a 400), or None."""
        return None

    def prepare_for_create(self, obj: Object) -> None:
        """Set server-owned fields of a new object before validation."""

    def prepare_for_update(self, new: Object, old: Object) -> None:
        """Adjust an updated object before validation, e.g. keep server-owned fields."""

    def validate(self, obj: Object) -> list[FieldError]:
        """Validate the kind-specific fields of a new or updated object."""
        return []

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        """Validate the transition of an update, e.g. immutable fields."""
        return []

    def pending_finalization(self, obj: Object) -> bool:
        """Tell whether a kind-specific finalizer still keeps a deleted object."""
        return False

    def prepare_for_delete(self, obj: Object) -> None:
        """Adjust an object when its deletion starts, e.g. add a cleanup finalizer."""


def _name(obj: Mapping[str, Any]) -> str | None:
    return obj.get("metadata", {}).get("name")  # type: ignore[no-any-return]


def _namespace(obj: Mapping[str, Any]) -> str | None:
    return obj.get("metadata", {}).get("namespace")  # type: ignore[no-any-return]


METADATA_FIELD_GETTERS: Mapping[str, selectors.FieldGetter] = {
    "metadata.name": _name,
    "metadata.namespace": _namespace,
}


@dataclasses.dataclass
class ResourceType:
    """One served resource of one group version."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status_subresource: bool = False
    extra_subresources: tuple[str, ...] = ()
    schema: schema.StructuralSchema | None = None
    openapi_schema: Mapping[str, Any] | None = None
    printer_columns: tuple[PrinterColumn, ...] | None = None
    patch_meta: patching.PatchMeta | None = None
    field_getters: Mapping[str, selectors.FieldGetter] = dataclasses.field(
        default_factory=lambda: dict(METADATA_FIELD_GETTERS)
    )
    tracks_generation: bool = True
    name_is_label: bool = False
    # RBAC objects only need names that fit in a URL path, e.g. "system:discovery".
    path_segment_name: bool = False
    strategy: Strategy = dataclasses.field(default_factory=Strategy)
    converter: events.Converter | None = None
    # Top-level fields that must be JSON objects; checked for built-in kinds, which have
    # no schema.
    object_fields: tuple[str, ...] = ("spec", "status")
    # The (group, plural) whose objects this version serves, when another group stores them.
    storage: tuple[str, str] | None = None
    custom: bool = False

    def present(self, obj: Object) -> Object:
        """Return a stored object as this version serves it."""
        if self.converter is not None:
            return self.converter.from_storage(obj, self.api_version)
        if obj.get("apiVersion") != self.api_version:
            return {**obj, "apiVersion": self.api_version}
        return obj

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """The storage identity: all versions of a resource share its objects."""
        return self.storage or (self.group, self.plural)

    @property
    def strategic_merge(self) -> bool:
        return self.patch_meta is not None

    def base_path(self, namespace: str | None = None) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"
