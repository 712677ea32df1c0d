"""Decoding of Kubernetes protobuf request bodies."""

from __future__ import annotations

import pytest

from serverops.apiserver import errors, protobuf


def varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field(1, api_version.encode()) + field(2, kind.encode())
    return protobuf.MAGIC + field(1, type_meta) + field(2, raw)


def test_namespace_with_labels_and_finalizers() -> None:
    label = field(1, b"team") + field(2, b"blue")
    metadata = field(1, b"team-a") + field(2, b"") + field(11, label)
    spec = field(1, b"kubernetes") + field(1, b"example.com/hold")
    body = envelope("v1", "Namespace", field(1, metadata) + field(2, spec))
    assert protobuf.decode(body) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team-a", "labels": {"team": "blue"}},
        "spec": {"finalizers": ["kubernetes", "example.com/hold"]},
    }


def test_unknown_kind_is_unsupported() -> None:
    with pytest.raises(errors.APIError) as raised:
        protobuf.decode(envelope("v1", "Pod", b""))
    assert raised.value.code == 415


def test_missing_magic_is_bad_request() -> None:
    with pytest.raises(errors.APIError) as raised:
        protobuf.decode(b"\x0a\x00")
    assert raised.value.code == 400
