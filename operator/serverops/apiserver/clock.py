"""
The wall clock of the local API server.

Timestamps that the server writes (``creationTimestamp``, ``deletionTimestamp``,
condition transition times) and the ages that tables show come from one
:class:`Clock`, so tests can inject a fake one and assert exact values.
"""

from __future__ import annotations

import datetime
from typing import Protocol


class Clock(Protocol):
    """A source of the current UTC time."""

    def now(self) -> datetime.datetime: ...


class SystemClock:
    """The real UTC time of this machine."""

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)


class FakeClock:
    """A clock that moves only when told to, for tests."""

    def __init__(self, start: datetime.datetime | None = None) -> None:
        self.current = start or datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)

    def now(self) -> datetime.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += datetime.timedelta(seconds=seconds)


def format_timestamp(moment: datetime.datetime) -> str:
    """Format a time as Kubernetes does: RFC 3339 in UTC with whole seconds."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_duration(seconds: float) -> str:
    """Format an age the way kubectl's ``HumanDuration`` does (``5s``, ``3m20s``, ``2d``)."""
    whole = int(seconds)
    if whole < 0:
        return "<invalid>"
    if whole < 60 * 2:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24
        rest = days % 365
        return f"{days // 365}y{rest}d" if rest else f"{days // 365}y"
    return f"{hours // 24 // 365}y"
