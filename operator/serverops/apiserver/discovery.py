"""
API discovery documents: ``/version``, ``/api``, ``/apis`` and their group versions.

Both forms are served. kopf and the Python clients read the legacy per-group-version
documents (``APIResourceList``). kubectl first requests the aggregated
``APIGroupDiscoveryList`` (``apidiscovery.k8s.io`` v2 and v2beta1), which describes
every resource in two requests.
"""

from __future__ import annotations

from typing import Any

from serverops.apiserver import catalog
from serverops.apiserver.resources import SUBRESOURCE_VERBS, ResourceType

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-serverops",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def aggregated_version(accept: str) -> str | None:
    """Return the ``apidiscovery.k8s.io`` version that the Accept header prefers."""
    for part in accept.split(","):
        params = {item.strip() for item in part.split(";")}
        if "as=APIGroupDiscoveryList" in params and "g=apidiscovery.k8s.io" in params:
            if "v=v2" in params:
                return "v2"
            if "v=v2beta1" in params:
                return "v2beta1"
        elif part.strip().startswith("application/json"):
            return None
    return None


def _resource_entries(rtype: ResourceType) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    entries = [entry]
    for subresource in _subresources(rtype):
        entries.append(
            {
                "name": f"{rtype.plural}/{subresource}",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": list(SUBRESOURCE_VERBS[subresource]),
            }
        )
    return entries


def _subresources(rtype: ResourceType) -> list[str]:
    names = ["status"] if rtype.status_subresource else []
    return names + list(rtype.extra_subresources)


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def resource_list(served: catalog.Catalog, group: str, version: str) -> dict[str, Any]:
    group_version = f"{group}/{version}" if group else version
    resources = [
        entry
        for rtype in sorted(served.resources_of(group, version), key=lambda item: item.plural)
        for entry in _resource_entries(rtype)
    ]
    body: dict[str, Any] = {
        "kind": "APIResourceList",
        "groupVersion": group_version,
        "resources": resources,
    }
    if group:
        body["apiVersion"] = "v1"
    return body


def _group(served: catalog.Catalog, group: str) -> dict[str, Any]:
    versions = [
        {"groupVersion": f"{group}/{version}", "version": version}
        for version in served.sorted_versions(group)
    ]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def group_list(served: catalog.Catalog) -> dict[str, Any]:
    groups = [_group(served, group) for group in served.groups()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(served: catalog.Catalog, name: str) -> dict[str, Any]:
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(served, name)}


def _aggregated_resource(rtype: ResourceType) -> dict[str, Any]:
    kind = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    entry: dict[str, Any] = {
        "resource": rtype.plural,
        "responseKind": kind,
        "scope": "Namespaced" if rtype.namespaced else "Cluster",
        "singularResource": rtype.singular,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    subresources = [
        {"subresource": name, "responseKind": kind, "verbs": list(SUBRESOURCE_VERBS[name])}
        for name in _subresources(rtype)
    ]
    if subresources:
        entry["subresources"] = subresources
    return entry


def aggregated(served: catalog.Catalog, *, core: bool, version: str) -> dict[str, Any]:
    """Build the aggregated discovery document of ``/api`` (core) or ``/apis``."""
    groups = [""] if core else served.groups()
    items = []
    for name in groups:
        versions = []
        for group_version in served.sorted_versions(name) if name else ["v1"]:
            resources = sorted(
                served.resources_of(name, group_version), key=lambda item: item.plural
            )
            versions.append(
                {
                    "version": group_version,
                    "resources": [_aggregated_resource(rtype) for rtype in resources],
                    "freshness": "Current",
                }
            )
        metadata = {"name": name} if name else {}
        items.append({"metadata": metadata, "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
