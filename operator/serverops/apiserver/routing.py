"""
Parsing of resource URLs into the resource, namespace, name, subresource and verb.

Resource URLs have the shape ``/api/v1/...`` (core group) or ``/apis/<group>/<version>/...``
followed by ``[namespaces/<namespace>/]<plural>[/<name>[/<subresource>]]``. Under the core
group, ``namespaces/<name>`` and ``namespaces/<name>/status|finalize`` address the
namespace itself.
"""

from __future__ import annotations

import dataclasses

from serverops.apiserver import catalog, errors
from serverops.apiserver.resources import SUBRESOURCE_VERBS, ResourceType

_WATCH_VALUES = ("true", "1")


@dataclasses.dataclass(frozen=True)
class Target:
    """The resource, namespace, name, subresource and verb of a resource request."""

    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str
    verb: str

    def describe(self, user_agent: str) -> dict[str, str]:
        """Describe the request by the fields that fault rules match on."""
        return {
            "verb": self.verb,
            "group": self.rtype.group,
            "resource": self.rtype.plural,
            "subresource": self.subresource,
            "namespace": self.namespace or "",
            "name": self.name or "",
            "user_agent": user_agent,
        }


def split_group_version(parts: list[str]) -> tuple[str, str, list[str]] | None:
    """Split ``api/v1/...`` or ``apis/<group>/<version>/...``; None when neither."""
    if len(parts) >= 3 and parts[0] == "api":
        return "", parts[1], parts[2:]
    if len(parts) >= 4 and parts[0] == "apis":
        return parts[1], parts[2], parts[3:]
    return None


def parse(
    served: catalog.Catalog, group: str, version: str, rest: list[str], method: str, watch: str
) -> Target:
    """Resolve the resource part of a URL; raise 404 when it names no served resource."""
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        if group or rest[2] not in ("status", "finalize") or len(rest) > 3:
            namespace = rest[1]
            rest = rest[2:]
    plural, *tail = rest
    rtype = served.lookup(group, version, plural)
    if rtype is None or len(tail) > 2:
        raise errors.path_not_found("/".join(rest))
    if namespace is not None and not rtype.namespaced:
        raise errors.path_not_found("/".join(rest))
    name = tail[0] if tail else None
    subresource = tail[1] if len(tail) == 2 else ""
    if subresource and subresource not in _subresources(rtype):
        raise errors.path_not_found(subresource)
    verb = _verb(method, name, watch in _WATCH_VALUES)
    allowed = SUBRESOURCE_VERBS.get(subresource, ()) if subresource else rtype.verbs
    if verb is None or verb not in allowed:
        raise errors.method_not_allowed(
            "the server does not allow this method on the requested resource"
        )
    if rtype.namespaced and namespace is None and verb not in ("list", "watch"):
        # Only reads across all namespaces have a URL without the namespace.
        raise errors.path_not_found("/".join(rest))
    return Target(rtype, namespace, name, subresource, verb)


def _subresources(rtype: ResourceType) -> list[str]:
    names = ["status"] if rtype.status_subresource else []
    return names + list(rtype.extra_subresources)


def _verb(method: str, name: str | None, watch: bool) -> str | None:
    match method:
        case "GET":
            if watch:
                return "watch"
            return "get" if name else "list"
        case "POST":
            return None if name else "create"
        case "PUT":
            return "update" if name else None
        case "PATCH":
            return "patch" if name else None
        case "DELETE":
            return "delete" if name else "deletecollection"
    return None
