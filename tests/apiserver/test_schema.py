"""Structural schemas: pruning, defaulting and validation messages."""

from __future__ import annotations

from typing import Any

import pytest

from serverops.apiserver import errors
from serverops.apiserver.schema import StructuralSchema

WIDGET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
                "tags": {
                    "type": "array",
                    "maxItems": 2,
                    "minItems": 1,
                    "items": {"type": "string"},
                },
                "ratio": {
                    "type": "number",
                    "exclusiveMaximum": True,
                    "maximum": 1,
                    "multipleOf": 0.25,
                },
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string", "default": "plain"},
                            "n": {"type": "integer"},
                        },
                    },
                },
            },
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}


def widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": spec,
    }


def messages(spec: dict[str, Any], schema: dict[str, Any] | None = None) -> list[str]:
    return [error.message for error in StructuralSchema(schema or WIDGET).validate(widget(**spec))]


def test_prune_drops_undeclared_fields_and_reports_them() -> None:
    obj = widget(size=3, unknown=1, free={"anything": {"goes": True}}, items=[{"n": 1, "x": 2}])
    obj["metadata"]["bogus"] = True
    obj["other"] = {}
    removed = StructuralSchema(WIDGET).prune(obj)
    assert sorted(removed) == ["metadata.bogus", "other", "spec.items[0].x", "spec.unknown"]
    assert obj["spec"] == {"size": 3, "free": {"anything": {"goes": True}}, "items": [{"n": 1}]}
    assert obj["metadata"] == {"name": "w"}


def test_prune_keeps_additional_properties() -> None:
    obj = widget(size=1, labels={"a": "b"})
    assert StructuralSchema(WIDGET).prune(obj) == []
    assert obj["spec"]["labels"] == {"a": "b"}


def test_defaults_fill_missing_fields_and_list_items() -> None:
    obj = widget(size=1, items=[{"n": 1}, {"kind": "fancy"}])
    StructuralSchema(WIDGET).default(obj)
    assert obj["spec"]["color"] == "red"
    assert obj["spec"]["items"] == [{"n": 1, "kind": "plain"}, {"kind": "fancy"}]


def test_defaults_replace_null_unless_nullable() -> None:
    obj = widget(size=1, color=None)
    StructuralSchema(WIDGET).default(obj)
    assert obj["spec"]["color"] == "red"


def test_defaults_do_not_create_missing_parents() -> None:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Widget", "metadata": {}}
    StructuralSchema(WIDGET).default(obj)
    assert "spec" not in obj


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"size": 0},
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
        ),
        (
            {"size": 11},
            "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
        ),
        (
            {"size": "3"},
            'spec.size: Invalid value: "string": '
            'spec.size in body must be of type integer: "string"',
        ),
        (
            {"size": 1, "color": "green"},
            'spec.color: Unsupported value: "green": supported values: "red", "blue"',
        ),
        (
            {"size": 1, "name": "a"},
            'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long',
        ),
        ({"size": 1, "name": "abcdef"}, "spec.name: Too long: may not be longer than 5"),
        (
            {"size": 1, "name": "AB"},
            "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'",
        ),
        ({"size": 1, "tags": ["a", "b", "c"]}, "spec.tags: Too many: 3: must have at most 2 items"),
        (
            {"size": 1, "tags": []},
            "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items",
        ),
        (
            {"size": 1, "ratio": 1},
            "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1",
        ),
        (
            {"size": 1, "ratio": 0.3},
            "spec.ratio: Invalid value: 0.3: spec.ratio in body should be a multiple of 0.25",
        ),
        (
            {"size": 1, "port": True},
            'spec.port: Invalid value: "boolean": '
            'spec.port in body must be of type integer,string: "boolean"',
        ),
        (
            {"size": 1, "labels": {"a": 1}},
            'spec.labels.a: Invalid value: "integer": '
            'spec.labels.a in body must be of type string: "integer"',
        ),
        (
            {"size": 1, "items": [{"n": "x"}]},
            'spec.items[0].n: Invalid value: "string": '
            'spec.items[0].n in body must be of type integer: "string"',
        ),
        ({}, "spec.size: Required value"),
        (
            {"size": 1, "name": None},
            'spec.name: Invalid value: "null": spec.name in body must be of type string: "null"',
        ),
    ],
)
def test_validation_message(spec: dict[str, Any], expected: str) -> None:
    assert messages(spec) == [expected]


def test_valid_values_pass() -> None:
    spec = {
        "size": 10,
        "color": "blue",
        "name": "ab",
        "tags": ["x"],
        "ratio": 0.75,
        "port": "http",
        "note": None,
    }
    assert messages(spec) == []
    assert messages({"size": 1, "port": 8080, "ratio": 0.5}) == []


def test_integral_float_is_an_integer() -> None:
    assert messages({"size": 3.0}) == []


def test_errors_list_properties_before_required() -> None:
    assert messages({"color": "green", "tags": ["a", "b", "c"]}) == [
        'spec.color: Unsupported value: "green": supported values: "red", "blue"',
        "spec.tags: Too many: 3: must have at most 2 items",
        "spec.size: Required value",
    ]


ONE_OF = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "net": {
                    "type": "object",
                    "oneOf": [{"required": ["network"]}, {"required": ["port"]}],
                    "properties": {"network": {"type": "string"}, "port": {"type": "string"}},
                },
                "any": {"type": "string", "anyOf": [{"minLength": 3}, {"pattern": "^x"}]},
                "all": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 5}]},
                "not": {"type": "string", "not": {"enum": ["forbidden"]}},
            },
        }
    },
}


def test_one_of_with_required() -> None:
    assert messages({"net": {"network": "a"}}, ONE_OF) == []
    assert messages({"net": {"network": "a", "port": "b"}}, ONE_OF) == [
        '<nil>: Invalid value: "": "spec.net" must validate one and only one schema (oneOf). '
        "Found 2 valid alternatives"
    ]
    assert messages({"net": {}}, ONE_OF) == [
        '<nil>: Invalid value: "": "spec.net" must validate one and only one schema (oneOf). '
        "Found none valid",
        "spec.net.network: Required value",
    ]


def test_any_all_not() -> None:
    assert messages({"any": "xy", "all": 3, "not": "fine"}, ONE_OF) == []
    assert messages({"any": "ab"}, ONE_OF)[0].endswith(
        '"spec.any" must validate at least one schema (anyOf)'
    )
    assert messages({"all": 9}, ONE_OF) == [
        '<nil>: Invalid value: "": "spec.all" must validate all the schemas (allOf)',
        "spec.all: Invalid value: 9: spec.all in body should be less than or equal to 5",
    ]
    assert messages({"not": "forbidden"}, ONE_OF) == [
        '<nil>: Invalid value: "": "spec.not" must not validate the schema (not)'
    ]


def test_invalid_object_status_lists_causes() -> None:
    problems = StructuralSchema(WIDGET).validate(widget(size=0, color="green"))
    error = errors.invalid_object(
        group="golden.example.com", kind="Widget", name="w", errors=problems
    )
    status = error.status()
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["message"].startswith('Widget.golden.example.com "w" is invalid: [spec.color:')
    assert [cause["field"] for cause in status["details"]["causes"]] == ["spec.color", "spec.size"]


LISTS = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                    },
                },
                "tags": {
                    "type": "array",
                    "x-kubernetes-list-type": "set",
                    "items": {"type": "string"},
                },
                "unique": {"type": "array", "uniqueItems": True, "items": {"type": "integer"}},
            },
        }
    },
}


def test_list_types_reject_duplicates() -> None:
    assert messages({"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 1}]}, LISTS) == []
    assert messages({"ports": [{"name": "a", "port": 1}, {"name": "a", "port": 2}]}, LISTS) == [
        'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}'
    ]
    assert messages({"tags": ["x", "y", "x"]}, LISTS) == ['spec.tags[2]: Duplicate value: "x"']
    assert messages({"unique": [1, 1]}, LISTS) == [
        'spec.unique: Invalid value: "": spec.unique in body shouldn\'t contain duplicates'
    ]
