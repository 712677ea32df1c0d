"""
Errors of the local API server and their ``Status`` bodies.

Every failure that reaches a client is an :class:`APIError`. It carries the HTTP code
and the ``meta.k8s.io/v1`` ``Status`` body in the shape kube-apiserver sends, so that
clients (kubectl, kopf, the ``kubernetes`` packages) parse the reason and the causes
as they do against a real cluster. Field-level validation problems are collected as
:class:`FieldError` values and turned into one 422 ``Invalid`` status.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

# Field error types, as kube-apiserver names them in causes and messages.
REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
DUPLICATE = "FieldValueDuplicate"
NOT_FOUND = "FieldValueNotFound"

_TYPE_TITLES = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    TYPE_INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    DUPLICATE: "Duplicate value",
    NOT_FOUND: "Not found",
}

# These error types print no value, only the title and the detail.
_VALUELESS_TYPES = {REQUIRED, FORBIDDEN, TOO_LONG}


def format_value(value: Any) -> str:
    """Format a value the way Go's field errors print it (``%v`` or ``%q``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(format_value(item) for item in value) + "}"
    if isinstance(value, dict):
        items = ", ".join(f"{quote(str(k))}:{format_value(v)}" for k, v in value.items())
        return "map[string]interface {}{" + items + "}"
    return str(value)


def quote(text: str) -> str:
    """Quote a string as Go's ``%q`` does for printable text."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclasses.dataclass(frozen=True)
class FieldError:
    """One invalid field of a request body, like Go's ``field.Error``."""

    type: str
    field: str
    value: Any = None
    detail: str = ""

    @property
    def body(self) -> str:
        """The message without the field path, e.g. ``Required value``."""
        title = _TYPE_TITLES[self.type]
        if self.type in _VALUELESS_TYPES:
            text = title
        else:
            text = f"{title}: {format_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    @property
    def message(self) -> str:
        return f"{self.field}: {self.body}"


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, field, None, detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(INVALID, field, value, detail)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, field, None, detail)


def not_supported(field: str, value: Any, supported: Sequence[str]) -> FieldError:
    detail = "supported values: " + ", ".join(quote(item) for item in supported)
    return FieldError(NOT_SUPPORTED, field, value, detail)


class APIError(Exception):
    """A failed request, with the HTTP status code and the ``Status`` body to send."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """Build the ``Status`` body that kube-apiserver sends for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:  # empty in a webhook's denial without a reason
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(*, name: str | None, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details.update(extra)
    return details


def qualified(plural_or_kind: str, group: str) -> str:
    """Return ``widgets.example.com`` for a group, or the bare name for the core group."""
    return f"{plural_or_kind}.{group}" if group else plural_or_kind


def not_found(*, group: str, plural: str, name: str) -> APIError:
    message = f"{qualified(plural, group)} {quote(name)} not found"
    return APIError(404, "NotFound", message, details=_details(name=name, group=group, kind=plural))


def already_exists(*, group: str, plural: str, name: str) -> APIError:
    message = f"{qualified(plural, group)} {quote(name)} already exists"
    return APIError(
        409, "AlreadyExists", message, details=_details(name=name, group=group, kind=plural)
    )


def conflict(*, group: str, plural: str, name: str, reason: str) -> APIError:
    """A 409 Conflict of an update, e.g. a stale resourceVersion."""
    message = f"Operation cannot be fulfilled on {qualified(plural, group)} {quote(name)}: {reason}"
    return APIError(409, "Conflict", message, details=_details(name=name, group=group, kind=plural))


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid_object(*, group: str, kind: str, name: str, errors: Sequence[FieldError]) -> APIError:
    """A 422 Invalid error listing every field error as a cause."""
    unique: list[str] = []
    for error in errors:
        if error.message not in unique:
            unique.append(error.message)
    summary = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
    message = f"{qualified(kind, group)} {quote(name)} is invalid: {summary}"
    causes = [
        {"reason": error.type, "message": error.body, "field": error.field} for error in errors
    ]
    details = _details(name=name, group=group, kind=kind, causes=causes)
    return APIError(422, "Invalid", message, details=details)


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def forbidden_request(
    *, group: str, plural: str, name: str, message: str, causes: Iterable[dict[str, str]] = ()
) -> APIError:
    text = f"{qualified(plural, group)} {quote(name)} is forbidden: {message}"
    details = _details(name=name, group=group, kind=plural)
    cause_list = list(causes)
    if cause_list:
        details["causes"] = cause_list
    return APIError(403, "Forbidden", text, details=details)


def method_not_allowed(message: str) -> APIError:
    return APIError(405, "MethodNotAllowed", message, details={})


def unsupported_media_type(content_type: str, accepted: Sequence[str]) -> APIError:
    del content_type  # the real server does not repeat the rejected type
    message = (
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )
    return APIError(415, "UnsupportedMediaType", message)


def expired(message: str) -> APIError:
    return APIError(410, "Expired", message)


def path_not_found(path: str) -> APIError:
    """The 404 for a URL that names no API at all."""
    del path
    return APIError(404, "NotFound", "the server could not find the requested resource", details={})


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", f"Internal error occurred: {message}", details={})
