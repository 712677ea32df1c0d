"""
Validation of object metadata, with kube-apiserver's rules and messages.

It covers object names (RFC 1123 subdomains or labels), label keys and values,
annotation keys, finalizer names and owner references. It also covers the update rules
of every kind: the identity fields are immutable, and an object that is being deleted
gets no new finalizers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from serverops.apiserver import errors
from serverops.apiserver.errors import FieldError

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(" + _QUALIFIED_NAME + r")?"

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    f"used for validation is '{_DNS1123_SUBDOMAIN}')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{_DNS1123_LABEL}')"
)
_QUALIFIED_NAME_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    f"used for validation is '{_QUALIFIED_NAME}')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE}')"
)
_TOTAL_ANNOTATION_LIMIT = 256 * 1024


def subdomain_problems(name: str) -> list[str]:
    """Explain why a name is not an RFC 1123 subdomain; empty when it is one."""
    problems = []
    if len(name) > 253:
        problems.append("must be no more than 253 characters")
    if not re.fullmatch(_DNS1123_SUBDOMAIN, name):
        problems.append(SUBDOMAIN_MESSAGE)
    return problems


def label_problems(name: str) -> list[str]:
    """Explain why a name is not an RFC 1123 label; empty when it is one."""
    problems = []
    if len(name) > 63:
        problems.append("must be no more than 63 characters")
    if not re.fullmatch(_DNS1123_LABEL, name):
        problems.append(LABEL_MESSAGE)
    return problems


def qualified_name_problems(name: str) -> list[str]:
    """Explain why a key is not a qualified name such as ``example.com/name``."""
    parts = name.split("/")
    if len(parts) > 2:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
            f"or '123-abc', regex used for validation is '{_QUALIFIED_NAME}') with an optional "
            "DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    problems = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            problems.extend(f"prefix part {problem}" for problem in subdomain_problems(prefix))
    short = parts[-1]
    if not short:
        problems.append("name part must be non-empty")
    elif len(short) > 63:
        problems.append("name part must be no more than 63 characters")
    if short and not re.fullmatch(_QUALIFIED_NAME, short):
        problems.append(_QUALIFIED_NAME_MESSAGE)
    return problems


_STRING_FIELDS = ("name", "generateName", "namespace", "uid", "resourceVersion")
_MAP_FIELDS = ("labels", "annotations")


def type_problem(metadata: Mapping[str, Any]) -> str | None:
    """Describe a metadata field of the wrong JSON type, as Go's decoder reports it."""
    for key in _STRING_FIELDS:
        value = metadata.get(key)
        if value is not None and not isinstance(value, str):
            return _unmarshal_error(value, key, "string")
    for key in _MAP_FIELDS:
        value = metadata.get(key)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(item, str) for item in value.values())
        ):
            return _unmarshal_error(value, key, "map[string]string")
    finalizers = metadata.get("finalizers")
    if finalizers is not None and not (
        isinstance(finalizers, list) and all(isinstance(item, str) for item in finalizers)
    ):
        return _unmarshal_error(finalizers, "finalizers", "[]string")
    references = metadata.get("ownerReferences")
    if references is not None and not (
        isinstance(references, list) and all(isinstance(item, dict) for item in references)
    ):
        return _unmarshal_error(references, "ownerReferences", "[]v1.OwnerReference")
    return None


def _unmarshal_error(value: Any, field: str, go_type: str) -> str:
    names = {
        str: "string",
        bool: "bool",
        int: "number",
        float: "number",
        list: "array",
        dict: "object",
    }
    actual = names.get(type(value), "value")
    return (
        f"json: cannot unmarshal {actual} into Go struct field ObjectMeta.metadata.{field} of type "
        f"{go_type}"
    )


def validate_name(name: str, *, label: bool, field: str = "metadata.name") -> list[FieldError]:
    problems = label_problems(name) if label else subdomain_problems(name)
    return [errors.invalid(field, name, problem) for problem in problems]


def path_segment_problems(name: str) -> list[str]:
    """Explain why a name cannot be a URL path segment, the only rule for RBAC names."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{char}'" for char in ("/", "%") if char in name]


def validate_object_meta(
    metadata: Mapping[str, Any], *, name_is_label: bool, path_segment_name: bool = False
) -> list[FieldError]:
    """Validate the metadata fields that every kind shares."""
    result: list[FieldError] = []
    name = metadata.get("name")
    if not name:
        result.append(errors.required("metadata.name", "name or generateName is required"))
    elif path_segment_name:
        problems = path_segment_problems(name)
        result.extend(errors.invalid("metadata.name", name, problem) for problem in problems)
    else:
        result.extend(validate_name(name, label=name_is_label))
    result.extend(_validate_labels(metadata.get("labels")))
    result.extend(_validate_annotations(metadata.get("annotations")))
    result.extend(_validate_finalizers(metadata.get("finalizers")))
    result.extend(_validate_owner_references(metadata.get("ownerReferences")))
    return result


def _validate_labels(labels: Any) -> list[FieldError]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [errors.invalid("metadata.labels", labels, "must be a map of strings")]
    result = []
    for key, value in labels.items():
        for problem in qualified_name_problems(key):
            result.append(errors.invalid("metadata.labels", key, problem))
        if not isinstance(value, str):
            result.append(errors.invalid("metadata.labels", value, "must be a string"))
            continue
        if len(value) > 63:
            result.append(
                errors.invalid("metadata.labels", value, "must be no more than 63 characters")
            )
        if not re.fullmatch(_LABEL_VALUE, value):
            result.append(errors.invalid("metadata.labels", value, _LABEL_VALUE_MESSAGE))
    return result


def _validate_annotations(annotations: Any) -> list[FieldError]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [errors.invalid("metadata.annotations", annotations, "must be a map of strings")]
    result = []
    total = 0
    for key, value in annotations.items():
        for problem in qualified_name_problems(key.lower()):
            result.append(errors.invalid("metadata.annotations", key, problem))
        total += len(key) + len(value if isinstance(value, str) else "")
    if total > _TOTAL_ANNOTATION_LIMIT:
        detail = f"must have at most {_TOTAL_ANNOTATION_LIMIT} bytes"
        result.append(FieldError(errors.TOO_LONG, "metadata.annotations", None, detail))
    return result


def _validate_finalizers(finalizers: Any) -> list[FieldError]:
    if finalizers is None:
        return []
    result = []
    for index, finalizer in enumerate(finalizers):
        for problem in qualified_name_problems(str(finalizer)):
            result.append(errors.invalid(f"metadata.finalizers[{index}]", finalizer, problem))
    return result


def _validate_owner_references(references: Any) -> list[FieldError]:
    if references is None:
        return []
    result = []
    controllers = 0
    for index, reference in enumerate(references):
        field = f"metadata.ownerReferences[{index}]"
        if not isinstance(reference, dict):
            result.append(errors.invalid(field, reference, "must be an object"))
            continue
        for key in ("apiVersion", "kind", "name", "uid"):
            if not reference.get(key):
                result.append(
                    errors.invalid(
                        f"{field}.{key}", reference.get(key, ""), f"{key} must not be empty"
                    )
                )
        if reference.get("controller"):
            controllers += 1
    if controllers > 1:
        detail = "Only one reference can have Controller set to true"
        result.append(errors.invalid("metadata.ownerReferences", references, detail))
    return result


def validate_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """Validate the metadata rules of an update that hold for every kind."""
    result: list[FieldError] = []
    for key in ("name", "namespace", "uid"):
        if new.get(key, "") != old.get(key, ""):
            result.append(errors.invalid(f"metadata.{key}", new.get(key, ""), "field is immutable"))
    if old.get("deletionTimestamp"):
        result.extend(no_new_finalizers(new.get("finalizers") or [], old.get("finalizers") or []))
    return result


def no_new_finalizers(new: Sequence[str], old: Sequence[str]) -> list[FieldError]:
    added = [finalizer for finalizer in new if finalizer not in old]
    if not added:
        return []
    listed = ", ".join(errors.quote(finalizer) for finalizer in added)
    detail = (
        "no new finalizers can be added if the object is being deleted, "
        f"found new finalizers []string{{{listed}}}"
    )
    return [errors.forbidden("metadata.finalizers", detail)]
