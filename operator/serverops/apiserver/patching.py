"""
PATCH bodies: JSON merge patch, JSON patch and strategic merge patch.

JSON merge patch follows RFC 7386 and JSON patch RFC 6902 (through the ``jsonpatch``
package). Strategic merge patch is the Kubernetes dialect that built-in kinds accept:
lists with a patch strategy of ``merge`` are merged by their merge key (or as sets of
primitives), other lists are replaced, and the ``$patch``, ``$retainKeys``,
``$deleteFromPrimitiveList/…`` and ``$setElementOrder/…`` directives are honoured.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jsonpatch
import jsonpointer
import orjson

from serverops.apiserver import errors

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


@dataclasses.dataclass(frozen=True)
class ListStrategy:
    """How a strategic merge patch treats one list field: merged by a key, or as a set."""

    merge_key: str | None = None


# Keys are dotted paths of list fields; lists of maps are transparent in paths.
PatchMeta = Mapping[str, ListStrategy]

OBJECT_META_PATCH_META: PatchMeta = {
    "metadata.finalizers": ListStrategy(),
    "metadata.ownerReferences": ListStrategy(merge_key="uid"),
}


def _rejected() -> errors.APIError:
    # kube-apiserver 1.23 answers a failed "test" or a bad path with this generic text.
    return errors.APIError(
        422, "Invalid", "the server rejected our request due to an error in our request", details={}
    )


def apply_json_patch(document: Any, patch: Any) -> Any:
    """Apply an RFC 6902 patch; raise 422 when an operation fails, 400 when malformed."""
    if not isinstance(patch, list):
        raise errors.bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    try:
        return jsonpatch.JsonPatch(patch).apply(document, in_place=False)
    except (
        jsonpatch.JsonPatchConflict,
        jsonpatch.JsonPatchTestFailed,
        jsonpointer.JsonPointerException,
    ):
        raise _rejected() from None
    except (jsonpatch.InvalidJsonPatch, TypeError, KeyError, ValueError) as error:
        raise errors.bad_request(f"invalid JSON patch: {error}") from None


def apply_merge_patch(document: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch and return the result; inputs are not changed."""
    if not isinstance(patch, dict):
        return _copy(patch)
    result = dict(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def apply_strategic_merge_patch(document: Any, patch: Any, meta: PatchMeta) -> Any:
    """Apply a strategic merge patch with the list strategies in ``meta``."""
    if not isinstance(patch, dict):
        raise errors.bad_request("strategic merge patch must be a JSON object")
    return _merge_map(_copy(document), patch, "", meta)


def _merge_map(original: Any, patch: Mapping[str, Any], path: str, meta: PatchMeta) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {key: value for key, value in _copy(patch).items() if not key.startswith("$")}
    result: dict[str, Any] = original if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [item for item in result[field] if item not in value]
            continue
        if key.startswith("$"):
            continue  # $setElementOrder and $retainKeys affect ordering and pruning only
        child_path = f"{path}.{key}" if path else key
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(result.get(key), value, child_path, meta)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and child_path in meta:
            result[key] = _merge_list(result.get(key), value, child_path, meta)
        else:
            result[key] = _copy(value)
    if isinstance(retain, list):
        for key in [key for key in result if key not in retain]:
            del result[key]
    return result


def _merge_list(original: Any, patch: list[Any], path: str, meta: PatchMeta) -> list[Any]:
    current = list(original) if isinstance(original, list) else []
    merge_key = meta[path].merge_key
    if merge_key is None:
        for item in patch:
            if item not in current:
                current.append(_copy(item))
        return current
    for item in patch:
        if not isinstance(item, dict):
            raise errors.bad_request(f"list {path} must contain maps with the key {merge_key!r}")
        key_value = item.get(merge_key)
        index = next(
            (i for i, existing in enumerate(current) if existing.get(merge_key) == key_value), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del current[index]
            continue
        if index is None:
            current.append(_merge_map({}, item, path, meta))
        else:
            current[index] = _merge_map(current[index], item, path, meta)
    return current
