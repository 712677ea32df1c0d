"""
Conversion between core v1 Events and ``events.k8s.io/v1`` Events.

As in kube-apiserver, both APIs serve the same stored events: objects are stored in
the core v1 shape and converted field by field when written or read through
``events.k8s.io/v1`` (``involvedObject`` is ``regarding``, ``message`` is ``note``,
``source`` is ``deprecatedSource`` and so on).
"""

from __future__ import annotations

from typing import Any, Protocol

Object = dict[str, Any]

# (core v1 field, events.k8s.io/v1 field)
_RENAMES = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)
_SHARED = (
    "metadata",
    "eventTime",
    "series",
    "reportingInstance",
    "action",
    "reason",
    "related",
    "type",
)


class Converter(Protocol):
    """Converts objects of one served version to and from the stored shape."""

    def to_storage(self, obj: Object) -> Object: ...

    def from_storage(self, obj: Object, api_version: str) -> Object: ...


class EventsV1Converter:
    """Stores ``events.k8s.io/v1`` Events as core v1 Events."""

    def to_storage(self, obj: Object) -> Object:
        stored: Object = {"apiVersion": "v1", "kind": "Event"}
        for key in _SHARED:
            if key in obj:
                stored[key] = obj[key]
        for core, v1 in _RENAMES:
            if v1 in obj:
                stored[core] = obj[v1]
        return stored

    def from_storage(self, obj: Object, api_version: str) -> Object:
        served: Object = {"apiVersion": api_version, "kind": "Event"}
        for key in _SHARED:
            if key in obj:
                served[key] = obj[key]
        for core, v1 in _RENAMES:
            value = obj.get(core)
            if value not in (None, "", {}, 0):
                served[v1] = value
        served.setdefault("eventTime", None)
        return served
