"""JSON merge patch, JSON patch and strategic merge patch."""

from __future__ import annotations

from typing import Any

import pytest

from serverops.apiserver import errors, patching

DOC: dict[str, Any] = {
    "metadata": {
        "name": "x",
        "finalizers": ["a/one"],
        "ownerReferences": [{"uid": "1", "name": "o1"}, {"uid": "2", "name": "o2"}],
        "labels": {"keep": "1", "drop": "2"},
    },
    "spec": {"list": [1, 2], "nested": {"a": 1, "b": 2}},
}


def test_merge_patch_sets_replaces_and_deletes() -> None:
    patched = patching.apply_merge_patch(
        DOC, {"metadata": {"labels": {"drop": None, "new": "3"}}, "spec": {"list": [3]}}
    )
    assert patched["metadata"]["labels"] == {"keep": "1", "new": "3"}
    assert patched["spec"]["list"] == [3]
    assert DOC["metadata"]["labels"] == {"keep": "1", "drop": "2"}


def test_json_patch_operations() -> None:
    patched = patching.apply_json_patch(
        DOC,
        [
            {"op": "test", "path": "/metadata/name", "value": "x"},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "b/two"},
            {"op": "remove", "path": "/spec/nested/a"},
        ],
    )
    assert patched["metadata"]["finalizers"] == ["a/one", "b/two"]
    assert patched["spec"]["nested"] == {"b": 2}


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "test", "path": "/metadata/name", "value": "y"}],
        [{"op": "remove", "path": "/metadata/annotations"}],
        [{"op": "replace", "path": "/spec/missing/deep", "value": 1}],
    ],
)
def test_json_patch_failures_are_unprocessable(operations: list[dict[str, Any]]) -> None:
    with pytest.raises(errors.APIError) as raised:
        patching.apply_json_patch(DOC, operations)
    assert raised.value.code == 422
    assert raised.value.message == "the server rejected our request due to an error in our request"


def test_json_patch_must_be_a_list() -> None:
    with pytest.raises(errors.APIError) as raised:
        patching.apply_json_patch(DOC, {"op": "add"})
    assert raised.value.code == 400


def test_strategic_merge_of_lists() -> None:
    patch = {
        "metadata": {
            "finalizers": ["b/two", "a/one"],
            "ownerReferences": [
                {"uid": "2", "name": "renamed"},
                {"uid": "3", "name": "o3"},
                {"uid": "1", "$patch": "delete"},
            ],
        },
        "spec": {"list": [9]},
    }
    patched = patching.apply_strategic_merge_patch(DOC, patch, patching.OBJECT_META_PATCH_META)
    assert patched["metadata"]["finalizers"] == ["a/one", "b/two"]
    assert patched["metadata"]["ownerReferences"] == [
        {"uid": "2", "name": "renamed"},
        {"uid": "3", "name": "o3"},
    ]
    assert patched["spec"]["list"] == [9]


def test_strategic_merge_directives() -> None:
    meta = patching.OBJECT_META_PATCH_META
    replaced = patching.apply_strategic_merge_patch(
        DOC, {"spec": {"nested": {"$patch": "replace", "c": 3}}}, meta
    )
    assert replaced["spec"]["nested"] == {"c": 3}
    removed = patching.apply_strategic_merge_patch(
        DOC, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/one"]}}, meta
    )
    assert removed["metadata"]["finalizers"] == []
    retained = patching.apply_strategic_merge_patch(
        DOC, {"spec": {"$retainKeys": ["list"], "list": [1]}}, meta
    )
    assert retained["spec"] == {"list": [1]}
    ordered = patching.apply_strategic_merge_patch(
        DOC, {"metadata": {"$setElementOrder/finalizers": ["a/one"]}}, meta
    )
    assert ordered["metadata"]["finalizers"] == ["a/one"]
