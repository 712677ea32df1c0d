"""
OpenAPI documents: ``/openapi/v3`` (per group version) and ``/openapi/v2``.

kubectl reads them for ``explain`` and before ``apply``. Each custom resource's schema
is its CRD version's ``openAPIV3Schema`` with ``apiVersion``, ``kind`` and a reference to
``ObjectMeta`` added, and it carries ``x-kubernetes-group-version-kind`` so that kubectl
finds it. Built-in kinds get a shallow schema: their top-level fields only.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from serverops.apiserver import catalog
from serverops.apiserver.resources import ResourceType

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_META_FIELDS = {
    "name": ("string", "The object's name, unique per kind within its namespace."),
    "generateName": ("string", "A prefix from which the server generates a unique name."),
    "namespace": ("string", "The namespace of a namespaced object; empty for cluster-scoped ones."),
    "uid": ("string", "The unique id that the server assigns when it creates the object."),
    "resourceVersion": ("string", "An opaque version that changes on every write of the object."),
    "generation": ("integer", "A counter of changes to the desired state (spec)."),
    "creationTimestamp": ("string", "When the server created the object (RFC 3339, UTC)."),
    "deletionTimestamp": ("string", "When a deletion was requested; set until finalizers finish."),
    "deletionGracePeriodSeconds": ("integer", "Seconds allowed for a graceful deletion."),
    "labels": ("object", "String keys and values for organizing and selecting objects."),
    "annotations": ("object", "String keys and values for arbitrary non-identifying metadata."),
    "finalizers": ("array", "Names of the finalizers that must finish before deletion."),
    "ownerReferences": ("array", "Objects that own this one, for garbage collection."),
}


def _object_meta_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, (kind, description) in _META_FIELDS.items():
        field: dict[str, Any] = {"type": kind, "description": description}
        if kind == "object":
            field["additionalProperties"] = {"type": "string", "default": ""}
        if kind == "array":
            field["items"] = {"type": "object"} if name == "ownerReferences" else {"type": "string"}
        properties[name] = field
    return {
        "type": "object",
        "description": "Standard metadata that all persisted objects have.",
        "properties": properties,
    }


def schema_name(rtype: ResourceType) -> str:
    """Name a kind's schema as kube-apiserver does, e.g. ``com.example.golden.v1.Widget``."""
    if not rtype.group:
        prefix = "io.k8s.api.core"
    elif rtype.custom:
        prefix = ".".join(reversed(rtype.group.split(".")))
    elif rtype.group == "apiextensions.k8s.io":
        prefix = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions"
    else:
        prefix = "io.k8s.api." + rtype.group.split(".")[0]
    return f"{prefix}.{rtype.version}.{rtype.kind}"


def _type_fields(rtype: ResourceType, *, ref_prefix: str) -> dict[str, Any]:
    return {
        "apiVersion": {
            "type": "string",
            "description": "The versioned schema of this representation of an object.",
        },
        "kind": {"type": "string", "description": "The REST resource this object represents."},
        "metadata": {
            "description": "Standard object's metadata.",
            "allOf": [{"$ref": f"{ref_prefix}{OBJECT_META}"}],
            "default": {},
        },
    }


def kind_schema(rtype: ResourceType, *, ref_prefix: str) -> dict[str, Any]:
    """The schema of one kind, with its group-version-kind extension."""
    base = dict(rtype.openapi_schema or {"type": "object"})
    if not rtype.openapi_schema:
        base["description"] = f"{rtype.kind} of the {rtype.api_version} API."
        base["properties"] = {
            "spec": {"type": "object", "description": "The desired state."},
            "status": {"type": "object", "description": "The observed state."},
        }
    properties = {
        **_type_fields(rtype, ref_prefix=ref_prefix),
        **dict(base.get("properties") or {}),
    }
    properties["metadata"] = _type_fields(rtype, ref_prefix=ref_prefix)["metadata"]
    base["properties"] = properties
    base["x-kubernetes-group-version-kind"] = [
        {"group": rtype.group, "kind": rtype.kind, "version": rtype.version}
    ]
    return base


def _list_schema(rtype: ResourceType, *, ref_prefix: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"A list of {rtype.kind} objects.",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": f"{ref_prefix}{schema_name(rtype)}"}},
            "metadata": {"type": "object"},
        },
        "x-kubernetes-group-version-kind": [
            {"group": rtype.group, "kind": rtype.list_kind, "version": rtype.version}
        ],
    }


def _schemas(rtypes: list[ResourceType], *, ref_prefix: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {OBJECT_META: _object_meta_schema()}
    for rtype in rtypes:
        schemas[schema_name(rtype)] = kind_schema(rtype, ref_prefix=ref_prefix)
        schemas[schema_name(rtype) + "List"] = _list_schema(rtype, ref_prefix=ref_prefix)
    return schemas


def _operation(rtype: ResourceType, verb: str, action: str) -> dict[str, Any]:
    parameters = [
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    ]
    if action in ("post", "put", "patch"):
        parameters.append(
            {
                "name": "fieldValidation",
                "in": "query",
                "schema": {"type": "string", "uniqueItems": True},
            }
        )
    return {
        "description": f"{verb} {rtype.kind}",
        "operationId": f"{verb}{rtype.kind}",
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rtype.group,
            "version": rtype.version,
            "kind": rtype.kind,
        },
    }


def _paths(rtype: ResourceType) -> dict[str, Any]:
    """The operations kubectl inspects, e.g. whether PATCH takes ``fieldValidation``."""
    collection = rtype.base_path("{namespace}")
    item = collection + "/{name}"
    paths = {
        collection: {
            "get": _operation(rtype, "list", "list"),
            "post": _operation(rtype, "create", "post"),
        },
        item: {
            "get": _operation(rtype, "read", "get"),
            "put": _operation(rtype, "replace", "put"),
            "patch": _operation(rtype, "patch", "patch"),
            "delete": _operation(rtype, "delete", "delete"),
        },
    }
    if rtype.status_subresource:
        paths[item + "/status"] = {
            "get": _operation(rtype, "readStatus", "get"),
            "put": _operation(rtype, "replaceStatus", "put"),
            "patch": _operation(rtype, "patchStatus", "patch"),
        }
    return paths


def v3_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def v3_document(served: catalog.Catalog, group: str, version: str) -> dict[str, Any]:
    rtypes = served.resources_of(group, version)
    paths: dict[str, Any] = {}
    for rtype in rtypes:
        paths.update(_paths(rtype))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": _schemas(rtypes, ref_prefix="#/components/schemas/")},
    }


def document_hash(document: dict[str, Any]) -> str:
    return hashlib.sha512(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest().upper()


def v3_root(served: catalog.Catalog) -> dict[str, Any]:
    paths = {}
    group_versions = [("", "v1")] + [
        (group, version) for group in served.groups() for version in served.sorted_versions(group)
    ]
    for group, version in group_versions:
        path = v3_path(group, version)
        digest = document_hash(v3_document(served, group, version))
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def v2_document(served: catalog.Catalog) -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": {},
        "definitions": _schemas(served.all(), ref_prefix="#/definitions/"),
    }
