"""
Fault injection for crash and failure tests.

A :class:`FaultRule` matches requests by verb, group, resource, subresource,
namespace, name and user-agent prefix (an unset field matches anything). It skips its
first ``after`` matches, then acts on up to ``times`` matches (all when ``times`` is
None):

* ``error``: answer ``status`` with a ``Status`` body instead of handling the request;
* ``delay``: wait ``delay`` seconds, then handle the request;
* ``hold``: stop the request at a barrier, before it is applied (``phase="before"``) or
  after it is applied but before it is answered (``phase="after"``). A test waits for
  the held request with :meth:`Faults.wait_held`, then lets it through with
  :meth:`Faults.release` or drops it with :meth:`Faults.drop`, which closes the
  connection without an answer (and, before the write, without applying it).

All methods run on the server's event loop; :class:`ThreadedAPIServer` and the debug
HTTP paths wrap them for other threads and processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from typing import Any

_ACTIONS = ("error", "delay", "hold")
_PHASES = ("before", "after")
_MATCH_FIELDS = ("verb", "group", "resource", "subresource", "namespace", "name")
_ids = itertools.count(1)


@dataclasses.dataclass
class HeldRequest:
    """A request stopped at a fault's barrier, waiting for a decision."""

    request: dict[str, Any]
    decision: asyncio.Future[str]

    def as_json(self) -> dict[str, Any]:
        return dict(self.request)


@dataclasses.dataclass
class FaultRule:
    """Which requests a fault matches and what it does to them."""

    action: str = "error"
    verb: str | None = None
    group: str | None = None
    resource: str | None = None
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    user_agent: str | None = None  # a prefix, e.g. "kopf/"
    after: int = 0
    times: int | None = 1
    status: int = 500
    reason: str = "InternalError"
    message: str = "injected fault"
    delay: float = 0.0
    phase: str = "before"
    id: str = dataclasses.field(default_factory=lambda: str(next(_ids)))
    matched: int = 0
    fired: int = 0
    held: list[HeldRequest] = dataclasses.field(default_factory=list)
    arrived: asyncio.Event | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(f"invalid fault action {self.action!r}: expected one of {_ACTIONS}")
        if self.phase not in _PHASES:
            raise ValueError(f"invalid fault phase {self.phase!r}: expected one of {_PHASES}")

    def matches(self, request: dict[str, Any]) -> bool:
        for field in _MATCH_FIELDS:
            expected = getattr(self, field)
            if expected is not None and request.get(field, "") != expected:
                return False
        if self.user_agent is not None:
            return str(request.get("user_agent", "")).startswith(self.user_agent)
        return True

    def as_json(self) -> dict[str, Any]:
        fields = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name not in ("held", "arrived")
        }
        fields["heldRequests"] = [held.as_json() for held in self.held]
        return fields


class Faults:
    """The active fault rules of one server."""

    def __init__(self) -> None:
        self.rules: dict[str, FaultRule] = {}

    def add(self, **fields: Any) -> FaultRule:
        """Add a rule built from :class:`FaultRule` fields; return it."""
        allowed = {field.name for field in dataclasses.fields(FaultRule)} - {
            "id",
            "matched",
            "fired",
            "held",
            "arrived",
        }
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        rule = FaultRule(**fields)
        self.rules[rule.id] = rule
        return rule

    def remove(self, rule_id: str) -> None:
        """Remove a rule and let its held requests through."""
        rule = self.rules.pop(rule_id, None)
        if rule is not None:
            self._decide(rule, "release", count=None)

    def clear(self) -> None:
        for rule_id in list(self.rules):
            self.remove(rule_id)

    def match(self, request: dict[str, Any]) -> FaultRule | None:
        """Return the first rule that acts on this request, counting the match."""
        for rule in self.rules.values():
            if not rule.matches(request):
                continue
            rule.matched += 1
            if rule.matched <= rule.after:
                continue
            if rule.times is not None and rule.fired >= rule.times:
                continue
            rule.fired += 1
            return rule
        return None

    async def hold(self, rule: FaultRule, request: dict[str, Any]) -> str:
        """Stop a request at the rule's barrier; return ``release`` or ``drop``."""
        held = HeldRequest(request, asyncio.get_running_loop().create_future())
        rule.held.append(held)
        self._arrived(rule).set()
        try:
            return await held.decision
        finally:
            if held in rule.held:
                rule.held.remove(held)

    def _arrived(self, rule: FaultRule) -> asyncio.Event:
        if rule.arrived is None:
            rule.arrived = asyncio.Event()
        return rule.arrived

    async def wait_held(
        self, rule_id: str, *, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` requests are held by a rule; return their descriptions."""
        rule = self.rules[rule_id]
        async with asyncio.timeout(timeout):
            while len(rule.held) < count:
                event = self._arrived(rule)
                event.clear()
                await event.wait()
        return [held.as_json() for held in rule.held]

    def release(self, rule_id: str, *, count: int | None = None) -> int:
        """Let held requests continue; return how many were released."""
        return self._decide(self.rules[rule_id], "release", count=count)

    def drop(self, rule_id: str, *, count: int | None = None) -> int:
        """Close held requests' connections without an answer; return how many."""
        return self._decide(self.rules[rule_id], "drop", count=count)

    def _decide(self, rule: FaultRule, decision: str, *, count: int | None) -> int:
        targets = rule.held if count is None else rule.held[:count]
        decided = 0
        for held in list(targets):
            if not held.decision.done():
                held.decision.set_result(decision)
                decided += 1
            rule.held.remove(held)
        return decided
