"""
Label and field selectors of list and watch requests.

Label selectors have the full set-based syntax of kube-apiserver: ``key=value``,
``key==value``, ``key!=value``, ``key in (a,b)``, ``key notin (a,b)``, ``key``,
``!key``, and the numeric ``key>3`` / ``key<3``, joined by commas. Field selectors
have ``=``, ``==`` and ``!=``, with ``\\`` escaping commas and operators in values.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from serverops.apiserver import errors

_LABEL_KEY = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9]$")
_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|>|<|[^\s!=(),<>]+)")


@dataclasses.dataclass(frozen=True)
class Requirement:
    """One condition of a label selector."""

    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case "exists":
                return present
            case "!":
                return not present
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case ">" | "<":
                return present and _compare(value or "", self.operator, next(iter(self.values)))
        return False


def _compare(value: str, operator: str, bound: str) -> bool:
    try:
        number = int(value)
    except ValueError:
        return False
    return number > int(bound) if operator == ">" else number < int(bound)


@dataclasses.dataclass(frozen=True)
class LabelSelector:
    """A parsed label selector; it matches every object when it has no requirements."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(requirement.matches(labels) for requirement in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _selector_error(text: str, reason: str) -> errors.APIError:
    return errors.bad_request(f"unable to parse requirement: {reason}: {text!s}")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a ``labelSelector`` query parameter; raise a 400 error when it is malformed."""
    if not text or not text.strip():
        return LabelSelector()
    tokens = _TOKEN.findall(text)
    if "".join(tokens).replace(" ", "") != text.replace(" ", ""):
        raise _selector_error(text, "found unexpected characters")
    requirements: list[Requirement] = []
    position = 0
    while position < len(tokens):
        requirement, position = _parse_requirement(tokens, position, text)
        requirements.append(requirement)
        if position < len(tokens):
            if tokens[position] != ",":
                raise _selector_error(text, f"found '{tokens[position]}', expected: ','")
            position += 1
            if position == len(tokens):
                raise _selector_error(text, "found '', expected: identifier")
    return LabelSelector(tuple(requirements))


def _parse_requirement(tokens: list[str], position: int, text: str) -> tuple[Requirement, int]:
    if tokens[position] == "!":
        key = _expect_key(tokens, position + 1, text)
        return Requirement(key, "!"), position + 2
    key = _expect_key(tokens, position, text)
    position += 1
    if position == len(tokens) or tokens[position] == ",":
        return Requirement(key, "exists"), position
    operator = tokens[position]
    if operator in ("=", "==", "!="):
        value = tokens[position + 1] if position + 1 < len(tokens) else ""
        if value in (",", "(", ")", "!", "=", "==", "!="):
            value = ""
            position -= 1
        _check_label_value(value, text)
        return Requirement(key, "!=" if operator == "!=" else "=", frozenset([value])), position + 2
    if operator in (">", "<"):
        bound = tokens[position + 1] if position + 1 < len(tokens) else ""
        if not re.fullmatch(r"-?\d+", bound):
            raise _selector_error(text, "for 'Gt', 'Lt' operators, the value must be an integer")
        return Requirement(key, operator, frozenset([bound])), position + 2
    if operator in ("in", "notin"):
        return _parse_set(tokens, position + 1, key, operator, text)
    raise _selector_error(text, f"found '{operator}', expected: in, notin, =, ==, !=, gt, lt")


def _parse_set(
    tokens: list[str], position: int, key: str, operator: str, text: str
) -> tuple[Requirement, int]:
    if position >= len(tokens) or tokens[position] != "(":
        raise _selector_error(text, "found '', expected: '('")
    position += 1
    values: set[str] = set()
    while position < len(tokens) and tokens[position] != ")":
        if tokens[position] != ",":
            _check_label_value(tokens[position], text)
            values.add(tokens[position])
        position += 1
    if position >= len(tokens):
        raise _selector_error(text, "found '', expected: ')'")
    return Requirement(key, operator, frozenset(values)), position + 1


def _expect_key(tokens: list[str], position: int, text: str) -> str:
    if position >= len(tokens) or not _LABEL_KEY.match(tokens[position]):
        found = tokens[position] if position < len(tokens) else ""
        raise _selector_error(text, f"found '{found}', expected: identifier")
    return tokens[position]


def _check_label_value(value: str, text: str) -> None:
    if value and not re.fullmatch(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", value):
        raise _selector_error(text, f"invalid label value: {value!r}")


# Field selectors ---------------------------------------------------------------------


FieldGetter = Callable[[Mapping[str, Any]], str | None]


@dataclasses.dataclass(frozen=True)
class FieldRequirement:
    field: str
    negated: bool
    value: str


@dataclasses.dataclass(frozen=True)
class FieldSelector:
    """A parsed field selector, checked against the fields a resource supports."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any], getters: Mapping[str, FieldGetter]) -> bool:
        for requirement in self.requirements:
            actual = getters[requirement.field](obj) or ""
            if (actual == requirement.value) == requirement.negated:
                return False
        return True

    def exact_name(self) -> str | None:
        """Return the name when the selector pins ``metadata.name`` to one value."""
        for requirement in self.requirements:
            if requirement.field == "metadata.name" and not requirement.negated:
                return requirement.value
        return None


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text: str | None, supported: Mapping[str, FieldGetter]) -> FieldSelector:
    """Parse a ``fieldSelector``; raise a 400 error for syntax or an unsupported field."""
    if not text or not text.strip():
        return FieldSelector()
    requirements: list[FieldRequirement] = []
    for part in _split_unescaped(text, ","):
        match = re.match(r"^((?:[^\\=!]|\\.)*?)(!=|==|=)(.*)$", part)
        if not match:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, operator, value = match.group(1).strip(), match.group(2), match.group(3)
        if field not in supported:
            raise errors.bad_request(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, operator == "!=", _unescape(value)))
    return FieldSelector(tuple(requirements))
