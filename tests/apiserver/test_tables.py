"""Printer-column JSONPaths and server-side tables."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from serverops.apiserver import builtins, jsonpath, tables
from serverops.apiserver.clock import format_duration
from serverops.apiserver.resources import PrinterColumn, ResourceType

OBJ: dict[str, Any] = {
    "metadata": {
        "name": "w1",
        "creationTimestamp": "2025-01-01T00:00:00Z",
        "labels": {"a.b/c": "x"},
    },
    "spec": {
        "ports": [{"name": "p1", "n": 1}, {"name": "p2", "n": 2}],
        "locked": True,
        "ratio": 0.5,
    },
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "DeletionBlocked", "status": "False", "reason": "Locked"},
        ]
    },
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".metadata.name", ["w1"]),
        (".spec.ports[*].name", ["p1", "p2"]),
        (".spec.ports[0].name", ["p1"]),
        (".spec.ports[-1].n", [2]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type=='DeletionBlocked')].reason", ["Locked"]),
        (".status.conditions[?(@.reason)].type", ["DeletionBlocked"]),
        (".spec.ports[?(@.n>1)].name", ["p2"]),
        (".metadata.labels['a.b/c']", ["x"]),
        (".spec.missing", []),
        ("{.spec.locked}", [True]),
    ],
)
def test_jsonpath_finds(path: str, expected: list[Any]) -> None:
    assert jsonpath.compile_path(path).find(OBJ) == expected


def test_jsonpath_rejects_recursive_descent() -> None:
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.compile_path("..name")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400, "3d"),
    ],
)
def test_durations_as_kubectl_prints_them(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def _rtype(columns: tuple[PrinterColumn, ...]) -> ResourceType:
    return ResourceType(
        group="golden.example.com",
        version="v1",
        plural="widgets",
        singular="widget",
        kind="Widget",
        namespaced=True,
        printer_columns=(builtins.NAME_COLUMN, *columns),
        custom=True,
    )


def test_table_cells_by_type() -> None:
    columns = (
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("Ports", "string", ".spec.ports[*].name"),
        PrinterColumn("Locked", "boolean", ".spec.locked"),
        PrinterColumn("Count", "integer", ".spec.ports[1].n"),
        PrinterColumn("Ratio", "number", ".spec.ratio"),
        PrinterColumn("Missing", "string", ".status.nothing", priority=1),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    )
    now = datetime.datetime(2025, 1, 1, 0, 5, tzinfo=datetime.UTC)
    table = tables.render(_rtype(columns), [OBJ], now=now)
    assert table["kind"] == "Table"
    assert [column["name"] for column in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Ports",
        "Locked",
        "Count",
        "Ratio",
        "Missing",
        "Age",
    ]
    assert table["columnDefinitions"][6]["priority"] == 1
    assert table["rows"][0]["cells"] == ["w1", "True", "p1", True, 2, 0.5, None, "5m"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_table_without_columns_shows_name_and_creation() -> None:
    rtype = _rtype(())
    rtype.printer_columns = None
    table = tables.render(
        rtype, [OBJ], now=datetime.datetime(2025, 1, 2, tzinfo=datetime.UTC), include_object="None"
    )
    assert [column["name"] for column in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["rows"] == [{"cells": ["w1", "2025-01-01T00:00:00Z"]}]


def test_accept_header_asks_for_table() -> None:
    assert tables.wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert not tables.wants_table("application/json")
    assert not tables.wants_table("application/json, application/json;as=Table;v=v1;g=meta.k8s.io")
