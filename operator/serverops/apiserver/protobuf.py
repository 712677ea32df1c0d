"""
Decoding of Kubernetes protobuf request bodies into JSON objects.

kubectl sends built-in kinds it builds itself (``kubectl create namespace``) as
``application/vnd.kubernetes.protobuf``: the bytes ``k8s\\x00`` and a
``runtime.Unknown`` envelope whose ``raw`` field is the object's protobuf message.
Only request bodies are decoded; responses are always JSON, which every client accepts.
Messages are described by field-number tables for the built-in kinds served here.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from serverops.apiserver import errors

MAGIC = b"k8s\x00"

# A field is (name, kind, repeated); kind is a scalar type or the name of a message.
Field = tuple[str, str, bool]

MESSAGES: Mapping[str, Mapping[int, Field]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes", False)},
    "TypeMeta": {1: ("apiVersion", "string", False), 2: ("kind", "string", False)},
    "ObjectMeta": {
        1: ("name", "string", False),
        2: ("generateName", "string", False),
        3: ("namespace", "string", False),
        5: ("uid", "string", False),
        6: ("resourceVersion", "string", False),
        7: ("generation", "int", False),
        8: ("creationTimestamp", "Time", False),
        9: ("deletionTimestamp", "Time", False),
        10: ("deletionGracePeriodSeconds", "int", False),
        11: ("labels", "map", False),
        12: ("annotations", "map", False),
        13: ("ownerReferences", "OwnerReference", True),
        14: ("finalizers", "string", True),
    },
    "OwnerReference": {
        1: ("kind", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
        6: ("controller", "bool", False),
        7: ("blockOwnerDeletion", "bool", False),
    },
    "Time": {1: ("seconds", "int", False), 2: ("nanos", "int", False)},
    "Namespace": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "NamespaceSpec", False),
        3: ("status", "NamespaceStatus", False),
    },
    "NamespaceSpec": {1: ("finalizers", "string", True)},
    "NamespaceStatus": {1: ("phase", "string", False)},
    # NOTE: no client was seen sending Leases as protobuf (kubectl sends files as JSON),
    # so these field numbers are not tested against a real encoder.
    "Lease": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "LeaseSpec", False)},
    "LeaseSpec": {
        1: ("holderIdentity", "string", False),
        2: ("leaseDurationSeconds", "int", False),
        3: ("acquireTime", "MicroTime", False),
        4: ("renewTime", "MicroTime", False),
        5: ("leaseTransitions", "int", False),
    },
    "MicroTime": {1: ("seconds", "int", False), 2: ("nanos", "int", False)},
    # kubectl auth can-i sends these; the field numbers decode its bodies (kubectl 1.32).
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "SelfSubjectAccessReviewSpec", False),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
    },
    "ResourceAttributes": {
        1: ("namespace", "string", False),
        2: ("verb", "string", False),
        3: ("group", "string", False),
        4: ("version", "string", False),
        5: ("resource", "string", False),
        6: ("subresource", "string", False),
        7: ("name", "string", False),
    },
    "NonResourceAttributes": {1: ("path", "string", False), 2: ("verb", "string", False)},
}

_KINDS = {
    ("v1", "Namespace"): "Namespace",
    ("coordination.k8s.io/v1", "Lease"): "Lease",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
}


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if position >= len(data):
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """Split a message into (field number, wire type, value) triples."""
    result = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value = data[position : position + length]
            position += length
        elif wire == 1:
            value = data[position : position + 8]
            position += 8
        elif wire == 5:
            value = data[position : position + 4]
            position += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        result.append((number, wire, value))
    return result


def _time(message: dict[str, Any], micro: bool) -> str:
    moment = datetime.datetime.fromtimestamp(message.get("seconds", 0), datetime.UTC)
    if micro:
        moment += datetime.timedelta(microseconds=message.get("nanos", 0) // 1000)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(kind: str, value: Any) -> Any:
    match kind:
        case "string":
            return bytes(value).decode()
        case "bytes":
            return bytes(value)
        case "bool":
            return bool(value)
        case "int":
            return value - (1 << 64) if value >= 1 << 63 else value
    raise ValueError(f"unsupported field kind {kind}")


def decode_message(data: bytes, message: str) -> dict[str, Any]:
    """Decode one message by its table; unknown field numbers are skipped."""
    table = MESSAGES[message]
    result: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number not in table:
            continue
        name, kind, repeated = table[number]
        if kind == "map":
            entry = {n: bytes(v).decode() for n, _, v in _fields(value) if n in (1, 2)}
            result.setdefault(name, {})[entry.get(1, "")] = entry.get(2, "")
            continue
        if kind in ("Time", "MicroTime"):
            decoded: Any = _time(decode_message(value, "Time"), kind == "MicroTime")
        elif kind in MESSAGES:
            decoded = decode_message(value, kind)
        else:
            decoded = _scalar(kind, value)
        if repeated:
            result.setdefault(name, []).append(decoded)
        elif decoded not in ("", 0, False, b""):
            # Go writes every optional scalar, even empty; JSON omits empty ones.
            result[name] = decoded
    return result


def decode(raw: bytes) -> dict[str, Any]:
    """Decode a protobuf request body into the JSON form of its object."""
    if not raw.startswith(MAGIC):
        raise errors.bad_request(
            "the protobuf body does not start with the Kubernetes magic prefix"
        )
    try:
        envelope = decode_message(raw[len(MAGIC) :], "Unknown")
        type_meta = envelope.get("typeMeta", {})
        key = (type_meta.get("apiVersion", ""), type_meta.get("kind", ""))
        if key not in _KINDS:
            raise errors.unsupported_media_type(
                "application/vnd.kubernetes.protobuf", ["application/json", "application/yaml"]
            )
        obj = decode_message(envelope.get("raw", b""), _KINDS[key])
    except (ValueError, UnicodeDecodeError) as error:
        raise errors.bad_request(f"error decoding the protobuf body: {error}") from None
    return {"apiVersion": key[0], "kind": key[1], **obj}
