"""
Request counters for tests and benchmarks.

Every API request is counted once it is answered, by verb (as kube-apiserver's audit
log names them: get, list, watch, create, update, patch, delete, deletecollection),
API group, resource, subresource, namespace, name, user agent, response code and user.
Requests outside the resource API (discovery, OpenAPI) count under their path. The
counters are safe to read from another thread than the server's.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Any


@dataclasses.dataclass(frozen=True)
class RequestKey:
    """The identity under which requests are counted."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    user_agent: str = ""
    code: int = 200
    path: str = ""  # only for requests outside the resource API
    user: str = ""  # the user name the request acted as; empty when authentication failed

    def as_json(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "namespace": self.namespace,
            "name": self.name,
            "userAgent": self.user_agent,
            "code": self.code,
            "path": self.path,
            "user": self.user,
        }


_FILTER_FIELDS = (
    "verb",
    "group",
    "resource",
    "subresource",
    "namespace",
    "name",
    "code",
    "path",
    "user",
)


class RequestStats:
    """Counters of answered requests."""

    def __init__(self) -> None:
        self._counts: collections.Counter[RequestKey] = collections.Counter()
        self._lock = threading.Lock()

    def record(self, key: RequestKey) -> None:
        with self._lock:
            self._counts[key] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def count(self, *, user_agent_prefix: str | None = None, **filters: Any) -> int:
        """Count requests whose fields equal every filter given, e.g. ``verb="patch"``.

        ``user_agent_prefix="kopf/"`` counts only the requests of kopf-based operators.
        """
        unknown = set(filters) - set(_FILTER_FIELDS) - {"user_agent"}
        if unknown:
            raise TypeError(f"unknown request filters: {sorted(unknown)}")
        with self._lock:
            items = list(self._counts.items())
        total = 0
        for key, value in items:
            if user_agent_prefix is not None and not key.user_agent.startswith(user_agent_prefix):
                continue
            if all(getattr(key, field) == expected for field, expected in filters.items()):
                total += value
        return total

    def snapshot(self) -> list[dict[str, Any]]:
        """Return every counter as a JSON-ready dict with a ``count`` field."""
        with self._lock:
            items = list(self._counts.items())
        return [{**key.as_json(), "count": value} for key, value in items]

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())
