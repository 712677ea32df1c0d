"""
Debug HTTP paths for tests that run the server in another process.

``/debug/serverops/requests``
    GET returns the request counters, DELETE resets them.
``/debug/serverops/faults``
    GET lists the fault rules, POST adds one (a JSON object of
    :class:`~serverops.apiserver.faults.FaultRule` fields, e.g.
    ``{"action": "hold", "verb": "patch", "resource": "servers"}``) and returns it with
    its ``id``, DELETE removes all of them.
``/debug/serverops/faults/<id>``
    GET returns one rule with its counters and held requests, DELETE removes it.
``/debug/serverops/faults/<id>/wait?count=1&timeout=10``
    POST waits until that many requests are held; 504 on timeout.
``/debug/serverops/faults/<id>/release`` and ``.../drop`` (``?count=N`` optional)
    POST lets the held requests through, or closes their connections unanswered.

These paths are not counted as requests and no fault rule applies to them.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from serverops.apiserver import faults, stats

PREFIX = "/debug/serverops/"


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _problem(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


class DebugEndpoints:
    """Request counters and fault rules over HTTP."""

    def __init__(self, request_stats: stats.RequestStats, fault_rules: faults.Faults) -> None:
        self.stats = request_stats
        self.faults = fault_rules

    async def handle(self, request: web.Request) -> web.Response:
        parts = request.path[len(PREFIX) :].strip("/").split("/")
        method = request.method
        try:
            match parts:
                case ["requests"]:
                    return self._requests(method)
                case ["faults"]:
                    return await self._faults(request)
                case ["faults", rule_id]:
                    return self._fault(method, rule_id)
                case ["faults", rule_id, action] if method == "POST":
                    return await self._fault_action(request, rule_id, action)
        except KeyError as error:
            return _problem(404, f"fault rule {error} not found")
        except (ValueError, TypeError) as error:
            return _problem(400, str(error))
        return _problem(404, f"no debug endpoint {method} {request.path}")

    def _requests(self, method: str) -> web.Response:
        if method == "DELETE":
            self.stats.reset()
            return _json({"requests": [], "total": 0})
        return _json({"requests": self.stats.snapshot(), "total": self.stats.total})

    async def _faults(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            fields = orjson.loads(await request.read() or b"{}")
            if not isinstance(fields, dict):
                raise ValueError("a fault rule must be a JSON object")
            fields = {_snake(key): value for key, value in fields.items()}
            rule = self.faults.add(**fields)
            return _json(rule.as_json(), 201)
        if request.method == "DELETE":
            self.faults.clear()
            return _json({"faults": []})
        return _json({"faults": [rule.as_json() for rule in self.faults.rules.values()]})

    def _fault(self, method: str, rule_id: str) -> web.Response:
        rule = self.faults.rules[rule_id]
        if method == "DELETE":
            self.faults.remove(rule_id)
        return _json(rule.as_json())

    async def _fault_action(self, request: web.Request, rule_id: str, action: str) -> web.Response:
        query = request.query
        count = int(query["count"]) if "count" in query else None
        if action == "wait":
            timeout = float(query.get("timeout", "10"))
            try:
                held = await self.faults.wait_held(rule_id, count=count or 1, timeout=timeout)
            except TimeoutError:
                return _problem(
                    504, f"no request was held by fault rule {rule_id} within {timeout}s"
                )
            return _json({"heldRequests": held})
        if action == "release":
            return _json({"released": self.faults.release(rule_id, count=count)})
        if action == "drop":
            return _json({"dropped": self.faults.drop(rule_id, count=count)})
        return _problem(404, f"unknown fault action {action!r}: use wait, release or drop")


def _snake(name: str) -> str:
    """Accept camelCase keys (``userAgent``) for the snake_case rule fields."""
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)
