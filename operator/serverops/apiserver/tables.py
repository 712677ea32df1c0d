"""
Server-side tables (``meta.k8s.io/v1`` ``Table``) for ``kubectl get``.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the
columns the server renders. Custom resources get a Name column and their CRD's
``additionalPrinterColumns`` (or Age when it declares none), as kube-apiserver renders
them: only the first value a JSONPath selects is shown, ``date`` columns show the age,
and a missing value is ``null``. Kinds without columns get Name and Created At.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from serverops.apiserver import builtins, clock, jsonpath
from serverops.apiserver.resources import Object, PrinterColumn, ResourceType

TABLE_MEDIA = "as=Table"


def wants_table(accept: str) -> bool:
    """Tell whether the Accept header asks for a Table first."""
    first = accept.split(",")[0].replace(" ", "")
    return TABLE_MEDIA in first and "g=meta.k8s.io" in first


def columns_of(rtype: ResourceType) -> tuple[PrinterColumn, ...]:
    return rtype.printer_columns or builtins.DEFAULT_COLUMNS


def _definition(column: PrinterColumn) -> dict[str, Any]:
    description = column.description
    if not description and column.json_path:
        description = f"Custom resource definition column (in JSONPath format): {column.json_path}"
    return {
        "name": column.name,
        "type": column.type,
        "format": column.format,
        "description": description,
        "priority": column.priority,
    }


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _cell(column: PrinterColumn, obj: Mapping[str, Any], now: float) -> Any:
    if column.compute is not None:
        return column.compute(obj, now)
    try:
        values = jsonpath.compile_path(column.json_path).find(obj)
    except jsonpath.JSONPathError:
        return None
    if not values or values[0] is None:
        return None
    value = values[0]
    match column.type:
        case "string":
            return _text(value)
        case "integer":
            return (
                int(value)
                if isinstance(value, int | float) and not isinstance(value, bool)
                else None
            )
        case "number":
            return value if isinstance(value, int | float) and not isinstance(value, bool) else None
        case "boolean":
            return value if isinstance(value, bool) else None
        case "date":
            return _date_cell(column, value, now)
    return _text(value)


def _date_cell(column: PrinterColumn, value: Any, now: float) -> Any:
    if not isinstance(value, str):
        return None
    try:
        moment = clock.parse_timestamp(value)
    except ValueError:
        return None
    if column.name == "Created At":
        return clock.format_timestamp(moment)
    return clock.format_duration(now - moment.timestamp())


def _row_object(obj: Object, include: str) -> Any:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def render(
    rtype: ResourceType,
    objects: Iterable[Object],
    *,
    now: datetime.datetime,
    include_object: str = "Metadata",
    list_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Render objects, already presented in the served version, as one Table."""
    columns = columns_of(rtype)
    timestamp = now.timestamp()
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [_cell(column, obj, timestamp) for column in columns]}
        row_object = _row_object(obj, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata or {},
        "columnDefinitions": [_definition(column) for column in columns],
        "rows": rows,
    }
