"""
The JSONPath subset that printer columns use.

CRD ``additionalPrinterColumns`` take "simple" JSONPath expressions without braces:
dotted fields (``.status.phase``), quoted keys (``.metadata.labels['app.kubernetes.io/name']``),
indexes (``[0]``, ``[-1]``), wildcards (``[*]``, ``.*``) and filters such as
``.status.conditions[?(@.type=="Ready")].status``. Filters compare with ``==``, ``!=``,
``<``, ``>``, ``<=``, ``>=`` against a quoted string or a number, or test that a
field exists (``[?(@.ready)]``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any


class JSONPathError(ValueError):
    """An expression outside the supported subset."""


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str


@dataclasses.dataclass(frozen=True)
class _Index:
    index: int


@dataclasses.dataclass(frozen=True)
class _Wildcard:
    pass


@dataclasses.dataclass(frozen=True)
class _Filter:
    path: tuple[str, ...]
    operator: str | None
    value: Any


_Step = _Field | _Index | _Wildcard | _Filter

_FILTER = re.compile(
    r"""^\?\(\s*@((?:\.[A-Za-z0-9_\-$]+)+)\s*(?:(==|!=|<=|>=|<|>)\s*('[^']*'|"[^"]*"|-?[0-9.]+|true|false))?\s*\)$"""
)


@dataclasses.dataclass(frozen=True)
class JSONPath:
    """A compiled expression; :meth:`find` returns every value it selects, in order."""

    text: str
    steps: tuple[_Step, ...]

    def find(self, data: Any) -> list[Any]:
        current = [data]
        for step in self.steps:
            current = [value for item in current for value in _apply(step, item)]
        return current


def compile_path(text: str) -> JSONPath:
    """Compile a printer-column JSONPath; raise :class:`JSONPathError` when unsupported."""
    source = text.strip()
    if source.startswith("{") and source.endswith("}"):
        source = source[1:-1]
    if source.startswith("$"):
        source = source[1:]
    steps: list[_Step] = []
    position = 0
    while position < len(source):
        position = _parse_step(source, position, steps)
    return JSONPath(text, tuple(steps))


def _parse_step(source: str, position: int, steps: list[_Step]) -> int:
    char = source[position]
    if char == ".":
        if source.startswith("..", position):
            raise JSONPathError(f"recursive descent is not supported in {source!r}")
        match = re.compile(r"\.([A-Za-z0-9_\-$/]+|\*)").match(source, position)
        if not match:
            if position == len(source) - 1:
                return position + 1  # a lone "." selects the whole object
            raise JSONPathError(f"invalid field at position {position} of {source!r}")
        name = match.group(1)
        steps.append(_Wildcard() if name == "*" else _Field(name))
        return match.end()
    if char == "[":
        end = _closing_bracket(source, position)
        steps.append(_parse_bracket(source[position + 1 : end].strip(), source))
        return end + 1
    raise JSONPathError(f"unexpected {char!r} at position {position} of {source!r}")


def _closing_bracket(source: str, start: int) -> int:
    depth = 0
    quote: str | None = None
    for index in range(start, len(source)):
        char = source[index]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index
    raise JSONPathError(f"unclosed bracket in {source!r}")


def _parse_bracket(inner: str, source: str) -> _Step:
    if inner == "*":
        return _Wildcard()
    if re.fullmatch(r"-?\d+", inner):
        return _Index(int(inner))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Field(inner[1:-1])
    match = _FILTER.match(inner)
    if match:
        path = tuple(match.group(1).split(".")[1:])
        operator = match.group(2)
        return _Filter(path, operator, _literal(match.group(3)) if operator else None)
    raise JSONPathError(f"unsupported expression [{inner}] in {source!r}")


def _literal(text: str) -> Any:
    if text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    return float(text) if "." in text else int(text)


def _apply(step: _Step, item: Any) -> Iterator[Any]:
    if isinstance(step, _Field):
        if isinstance(item, dict) and step.name in item:
            yield item[step.name]
    elif isinstance(step, _Index):
        if isinstance(item, list) and -len(item) <= step.index < len(item):
            yield item[step.index]
    elif isinstance(step, _Wildcard):
        if isinstance(item, list):
            yield from item
        elif isinstance(item, dict):
            yield from item.values()
    elif isinstance(item, list):
        yield from (element for element in item if _passes(step, element))


def _passes(step: _Filter, element: Any) -> bool:
    value = element
    for name in step.path:
        if not isinstance(value, dict) or name not in value:
            return False
        value = value[name]
    if step.operator is None:
        return True
    expected = step.value
    if isinstance(expected, str) != isinstance(value, str):
        return False
    try:
        match step.operator:
            case "==":
                return bool(value == expected)
            case "!=":
                return bool(value != expected)
            case "<":
                return bool(value < expected)
            case ">":
                return bool(value > expected)
            case "<=":
                return bool(value <= expected)
            case ">=":
                return bool(value >= expected)
    except TypeError:
        return False
    return False
