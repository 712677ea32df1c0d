"""
Structural schemas of custom resources: pruning, defaulting and validation.

A CRD version's ``openAPIV3Schema`` is applied to every custom resource written to
that version in the order kube-apiserver uses: unknown fields are pruned (and
reported for ``fieldValidation``), defaults fill in missing fields, and the result
is validated. Error messages follow the kube-openapi validator that kube-apiserver
1.23 uses, e.g. ``spec.size in body should be less than or equal to 10``.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from serverops.apiserver import errors
from serverops.apiserver.errors import FieldError

Schema = Mapping[str, Any]

# Metadata fields that survive pruning; everything else under metadata is dropped.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class StructuralSchema:
    """The schema of one CRD version, applied to whole objects."""

    def __init__(self, schema: Schema | None) -> None:
        self.root: Schema = schema or {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }

    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Drop fields the schema does not declare; return their paths for warnings."""
        removed: list[str] = []
        metadata = obj.get("metadata")
        if isinstance(metadata, dict):
            for key in [key for key in metadata if key not in OBJECT_META_FIELDS]:
                del metadata[key]
                removed.append(f"metadata.{key}")
        properties = self.root.get("properties", {})
        for key in list(obj):
            if key in _ROOT_FIELDS:
                continue
            if key in properties:
                _prune(properties[key], obj[key], key, removed)
            elif not self.root.get("x-kubernetes-preserve-unknown-fields"):
                del obj[key]
                removed.append(key)
        return removed

    def default(self, obj: dict[str, Any]) -> None:
        """Fill in schema defaults for missing fields, in place."""
        properties = self.root.get("properties", {})
        for key, subschema in properties.items():
            if key in _ROOT_FIELDS:
                continue
            if key not in obj and "default" in subschema:
                obj[key] = _copy(subschema["default"])
            if key in obj:
                _default(subschema, obj[key])

    def validate(self, obj: Mapping[str, Any]) -> list[FieldError]:
        """Validate everything but ``apiVersion``, ``kind`` and ``metadata``."""
        body = {key: value for key, value in obj.items() if key not in _ROOT_FIELDS}
        root = {key: value for key, value in self.root.items() if key != "required"}
        properties = {
            key: value
            for key, value in root.get("properties", {}).items()
            if key not in _ROOT_FIELDS
        }
        root["properties"] = properties
        result = validate_value(root, body, "")
        required = [key for key in self.root.get("required", []) if key not in _ROOT_FIELDS]
        result.extend(errors.required(key) for key in required if key not in obj)
        return result


def _prune(schema: Schema, value: Any, path: str, removed: list[str]) -> None:
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            metadata = value.get("metadata")
            if isinstance(metadata, dict):
                for key in [key for key in metadata if key not in OBJECT_META_FIELDS]:
                    del metadata[key]
                    removed.append(f"{path}.metadata.{key}")
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        embedded = schema.get("x-kubernetes-embedded-resource", False)
        for key in list(value):
            child_path = _join(path, key)
            if properties and key in properties:
                _prune(properties[key], value[key], child_path, removed)
            elif isinstance(additional, dict):
                _prune(additional, value[key], child_path, removed)
            elif embedded and key in _ROOT_FIELDS:
                continue
            elif not preserve and additional is not True:
                del value[key]
                removed.append(child_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _prune(schema["items"], item, f"{path}[{index}]", removed)


def _default(schema: Schema, value: Any) -> None:
    if isinstance(value, dict):
        for key, subschema in schema.get("properties", {}).items():
            current = value.get(key, _MISSING)
            if "default" in subschema and (
                current is _MISSING or (current is None and not subschema.get("nullable"))
            ):
                value[key] = _copy(subschema["default"])
            if key in value:
                _default(subschema, value[key])
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in value:
                if key not in schema.get("properties", {}):
                    _default(additional, value[key])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(schema["items"], item)


_MISSING = object()


# Validation --------------------------------------------------------------------------


def json_type(value: Any) -> str:
    """Name a JSON value's type as the OpenAPI validator does in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_matches(expected: str, value: Any) -> bool:
    actual = json_type(value)
    if expected == actual:
        return True
    if expected == "number" and actual == "integer":
        return True
    return expected == "integer" and actual == "number" and float(value).is_integer()


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def validate_value(schema: Schema, value: Any, path: str) -> list[FieldError]:
    """Validate one value against its schema node; return the field errors in order."""
    name = path or "."
    if value is None:
        if schema.get("nullable") or not _declares_type(schema):
            return []
        expected = schema.get("type", "object")
        detail = f'{name} in body must be of type {expected}: "null"'
        return [FieldError(errors.TYPE_INVALID, path, "null", detail)]
    type_error = _check_type(schema, value, path)
    if type_error:
        return [type_error]
    composed = "allOf" in schema or "anyOf" in schema or "oneOf" in schema or "not" in schema
    result = _check_composition(schema, value, path) if composed else []
    if "enum" in schema and value not in schema["enum"]:
        supported = [
            item if isinstance(item, str) else orjson.dumps(item).decode()
            for item in schema["enum"]
        ]
        result.append(errors.not_supported(path, value, supported))
    if isinstance(value, str):
        result.extend(_check_string(schema, value, path))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result.extend(_check_number(schema, value, path))
    elif isinstance(value, list):
        result.extend(_check_array(schema, value, path))
    elif isinstance(value, dict):
        result.extend(_check_object(schema, value, path))
    return result


def _declares_type(schema: Schema) -> bool:
    return "type" in schema and not schema.get("x-kubernetes-int-or-string")


def _check_type(schema: Schema, value: Any, path: str) -> FieldError | None:
    name = path or "."
    actual = json_type(value)
    if schema.get("x-kubernetes-int-or-string"):
        if actual in ("integer", "string"):
            return None
        detail = f"{name} in body must be of type integer,string: {errors.quote(actual)}"
        return FieldError(errors.TYPE_INVALID, path, actual, detail)
    expected = schema.get("type")
    if not expected or _type_matches(expected, value):
        return None
    detail = f"{name} in body must be of type {expected}: {errors.quote(actual)}"
    return FieldError(errors.TYPE_INVALID, path, actual, detail)


def _check_composition(schema: Schema, value: Any, path: str) -> list[FieldError]:
    result: list[FieldError] = []
    quoted = errors.quote(path or ".")
    if "allOf" in schema:
        failures = [validate_value(sub, value, path) for sub in schema["allOf"]]
        if any(failures):
            result.append(_composite(f"{quoted} must validate all the schemas (allOf)"))
            result.extend(error for failure in failures for error in failure)
    if "anyOf" in schema:
        failures = [validate_value(sub, value, path) for sub in schema["anyOf"]]
        if all(failures):
            result.append(_composite(f"{quoted} must validate at least one schema (anyOf)"))
            result.extend(_fewest(failures))
    if "oneOf" in schema:
        failures = [validate_value(sub, value, path) for sub in schema["oneOf"]]
        valid = sum(1 for failure in failures if not failure)
        if valid != 1:
            extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            message = f"{quoted} must validate one and only one schema (oneOf). {extra}"
            result.append(_composite(message))
            if valid == 0:
                result.extend(_fewest(failures))
    if "not" in schema and not validate_value(schema["not"], value, path):
        result.append(_composite(f"{quoted} must not validate the schema (not)"))
    return result


def _fewest(failures: list[list[FieldError]]) -> list[FieldError]:
    """Return the errors of the alternative that came closest to validating."""
    return min(failures, key=len)


def _composite(detail: str) -> FieldError:
    # kube-apiserver reports composite failures without a field path, as "<nil>".
    return errors.invalid("<nil>", "", detail)


def _check_string(schema: Schema, value: str, path: str) -> list[FieldError]:
    result: list[FieldError] = []
    name = path or "."
    length = len(value)
    if "maxLength" in schema and length > schema["maxLength"]:
        detail = f"may not be longer than {schema['maxLength']}"
        result.append(FieldError(errors.TOO_LONG, path, value, detail))
    if "minLength" in schema and length < schema["minLength"]:
        detail = f"{name} in body should be at least {schema['minLength']} chars long"
        result.append(errors.invalid(path, value, detail))
    if "pattern" in schema and not _compiled(schema["pattern"]).search(value):
        detail = f"{name} in body should match '{schema['pattern']}'"
        result.append(errors.invalid(path, value, detail))
    fmt = schema.get("format")
    if fmt in _FORMATS and not _FORMATS[fmt](value):
        detail = f"{name} in body must be of type {fmt}: {errors.quote(value)}"
        result.append(errors.invalid(path, value, detail))
    return result


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check_number(schema: Schema, value: float, path: str) -> list[FieldError]:
    result: list[FieldError] = []
    name = path or "."
    if "maximum" in schema:
        bound = schema["maximum"]
        if schema.get("exclusiveMaximum") and value >= bound:
            detail = f"{name} in body should be less than {_number(bound)}"
            result.append(errors.invalid(path, value, detail))
        elif value > bound:
            detail = f"{name} in body should be less than or equal to {_number(bound)}"
            result.append(errors.invalid(path, value, detail))
    if "minimum" in schema:
        bound = schema["minimum"]
        if schema.get("exclusiveMinimum") and value <= bound:
            detail = f"{name} in body should be greater than {_number(bound)}"
            result.append(errors.invalid(path, value, detail))
        elif value < bound:
            detail = f"{name} in body should be greater than or equal to {_number(bound)}"
            result.append(errors.invalid(path, value, detail))
    if "multipleOf" in schema and schema["multipleOf"]:
        quotient = value / schema["multipleOf"]
        if not float(quotient).is_integer():
            detail = f"{name} in body should be a multiple of {_number(schema['multipleOf'])}"
            result.append(errors.invalid(path, value, detail))
    return result


def _check_array(schema: Schema, value: list[Any], path: str) -> list[FieldError]:
    result: list[FieldError] = []
    name = path or "."
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        detail = f"must have at most {schema['maxItems']} items"
        result.append(FieldError(errors.TOO_MANY, path, len(value), detail))
    if "minItems" in schema and len(value) < schema["minItems"]:
        detail = f"{name} in body should have at least {schema['minItems']} items"
        result.append(errors.invalid(path, len(value), detail))
    result.extend(_check_unique(schema, value, path))
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            result.extend(validate_value(items, item, f"{path}[{index}]"))
    return result


def _check_unique(schema: Schema, value: list[Any], path: str) -> list[FieldError]:
    """Find the first duplicate of a set, a map-like list or a ``uniqueItems`` array."""
    list_type = schema.get("x-kubernetes-list-type")
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if not (schema.get("uniqueItems") or list_type == "set" or (list_type == "map" and keys)):
        return []
    seen: set[bytes] = set()
    for index, item in enumerate(value):
        identity = item
        if list_type == "map" and isinstance(item, dict):
            identity = {key: item[key] for key in keys if key in item}
        encoded = orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)
        if encoded not in seen:
            seen.add(encoded)
            continue
        if schema.get("uniqueItems"):
            detail = f"{path or '.'} in body shouldn't contain duplicates"
            return [errors.invalid(path, "", detail)]
        return [FieldError(errors.DUPLICATE, f"{path}[{index}]", identity)]
    return []


def _check_object(schema: Schema, value: dict[str, Any], path: str) -> list[FieldError]:
    result: list[FieldError] = []
    name = path or "."
    properties = schema.get("properties", {})
    for key in sorted(properties):
        if key in value:
            result.extend(validate_value(properties[key], value[key], _join(path, key)))
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        for key in sorted(value):
            if key not in properties:
                result.extend(validate_value(additional, value[key], _join(path, key)))
    for key in schema.get("required", []):
        if key not in value:
            result.append(errors.required(_join(path, key)))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        detail = f"must have at most {schema['maxProperties']} items"
        result.append(FieldError(errors.TOO_MANY, path, len(value), detail))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        detail = f"{name} in body should have at least {schema['minProperties']} properties"
        result.append(errors.invalid(path, len(value), detail))
    return result


def _is_datetime(text: str) -> bool:
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in text or " " in text


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _is_ip(version: int) -> Any:
    def check(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).version == version
        except ValueError:
            return False

    return check


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


_FORMATS = {
    "date-time": _is_datetime,
    "date": _is_date,
    "uuid": _is_uuid,
    "ipv4": _is_ip(4),
    "ipv6": _is_ip(6),
    "cidr": _is_cidr,
}
