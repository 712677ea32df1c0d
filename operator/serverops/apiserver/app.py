"""
The aiohttp application: URL dispatch, faults, counters and non-resource endpoints.

Every request goes through :meth:`APIApplication.dispatch`. Non-resource paths
(``/version``, discovery, OpenAPI, health checks, the debug paths) get their response
directly. Resource requests are parsed, matched against the fault rules, handled by
:class:`~serverops.apiserver.handlers.ResourceHandlers`, and counted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from serverops.apiserver import (
    cluster,
    debug,
    discovery,
    errors,
    faults,
    handlers,
    openapi,
    routing,
    stats,
)

logger = logging.getLogger(__name__)

_PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2"


def json_response(
    body: Any, status: int = 200, *, content_type: str = "application/json"
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers={"Content-Type": content_type}
    )


def error_response(error: errors.APIError) -> web.Response:
    return json_response(error.status(), error.code)


class APIApplication:
    """The HTTP front of one cluster."""

    def __init__(
        self,
        state: cluster.Cluster,
        *,
        settings: handlers.Settings,
        request_stats: stats.RequestStats,
        fault_rules: faults.Faults,
    ) -> None:
        self.cluster = state
        self.settings = settings
        self.stats = request_stats
        self.faults = fault_rules
        self.resources = handlers.ResourceHandlers(state, settings)
        self.debug = debug.DebugEndpoints(request_stats, fault_rules)
        self.server_address = ""
        self._openapi_cache: dict[str, tuple[int, Any]] = {}

    def build(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/debug/serverops/"):
            return await self.debug.handle(request)
        parts = [part for part in path.split("/") if part]
        split = routing.split_group_version(parts)
        if split is None:
            response = self._non_resource(request, parts)
            self.stats.record(
                stats.RequestKey(
                    verb=request.method.lower(),
                    user_agent=request.headers.get("User-Agent", ""),
                    code=response.status,
                    path=path,
                )
            )
            return response
        return await self._resource(request, *split)

    # Non-resource endpoints ----------------------------------------------------------

    def _non_resource(self, request: web.Request, parts: list[str]) -> web.Response:
        if request.method != "GET":
            return error_response(errors.method_not_allowed("only GET is allowed here"))
        served = self.cluster.catalog
        accept = request.headers.get("Accept", "")
        match parts:
            case ["version"]:
                return json_response(discovery.VERSION_INFO)
            case ["healthz"] | ["livez"] | ["readyz"]:
                return web.Response(text="ok", content_type="text/plain")
            case ["api"]:
                version = discovery.aggregated_version(accept)
                if version:
                    body = discovery.aggregated(served, core=True, version=version)
                    return json_response(
                        body, content_type=discovery.aggregated_content_type(version)
                    )
                return json_response(discovery.api_versions(self.server_address))
            case ["apis"]:
                version = discovery.aggregated_version(accept)
                if version:
                    body = discovery.aggregated(served, core=False, version=version)
                    return json_response(
                        body, content_type=discovery.aggregated_content_type(version)
                    )
                return json_response(discovery.group_list(served))
            case ["api", "v1"]:
                return json_response(discovery.resource_list(served, "", "v1"))
            case ["apis", group] if group in served.versions:
                return json_response(discovery.group(served, group))
            case ["apis", group, version] if served.has_group_version(group, version):
                return json_response(discovery.resource_list(served, group, version))
            case ["openapi", "v2"]:
                return self._openapi_v2(accept)
            case ["openapi", "v3"]:
                return json_response(self._cached("v3", lambda: openapi.v3_root(served)))
            case ["openapi", "v3", *rest]:
                return self._openapi_v3(rest)
        return error_response(errors.path_not_found(request.path))

    def _cached(self, key: str, build: Any) -> Any:
        generation = self.cluster.catalog.generation
        cached = self._openapi_cache.get(key)
        if cached is None or cached[0] != generation:
            cached = (generation, build())
            self._openapi_cache[key] = cached
        return cached[1]

    def _openapi_v3(self, rest: list[str]) -> web.Response:
        served = self.cluster.catalog
        split = routing.split_group_version([*rest, "_"])
        if split is None or split[2] != ["_"]:
            return error_response(errors.path_not_found("/openapi/v3/" + "/".join(rest)))
        group, version, _ = split
        known = served.has_group_version(group, version) if group else version == "v1"
        if not known:
            return error_response(errors.path_not_found("/openapi/v3/" + "/".join(rest)))
        key = f"v3/{group}/{version}"
        document = self._cached(key, lambda: openapi.v3_document(served, group, version))
        return json_response(document)

    def _openapi_v2(self, accept: str) -> web.Response:
        if _PROTOBUF_V2 in accept and "application/json" not in accept:
            # NOTE: the protobuf form of the v2 document is not implemented. An empty message
            # decodes as an empty document, so kubectl accepts it and relies on v3.
            return web.Response(body=b"", headers={"Content-Type": f"{_PROTOBUF_V2}.v1.0+protobuf"})
        return json_response(self._cached("v2", lambda: openapi.v2_document(self.cluster.catalog)))

    # Resource requests ---------------------------------------------------------------

    async def _resource(
        self, request: web.Request, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        user_agent = request.headers.get("User-Agent", "")
        key = stats.RequestKey(verb=request.method.lower(), group=group, user_agent=user_agent)
        try:
            target = routing.parse(
                self.cluster.catalog,
                group,
                version,
                rest,
                request.method,
                request.query.get("watch", ""),
            )
        except errors.APIError as error:
            self.stats.record(
                stats.RequestKey(
                    verb=key.verb,
                    group=group,
                    user_agent=user_agent,
                    code=error.code,
                    path=request.path,
                )
            )
            return error_response(error)
        description = target.describe(user_agent)
        response = await self._with_faults(request, target, description)
        self.stats.record(
            stats.RequestKey(
                verb=target.verb,
                group=group,
                resource=target.rtype.plural,
                subresource=target.subresource,
                namespace=target.namespace or "",
                name=target.name or "",
                user_agent=user_agent,
                code=response.status,
            )
        )
        return response

    async def _with_faults(
        self, request: web.Request, target: routing.Target, description: dict[str, str]
    ) -> web.StreamResponse:
        rule = self.faults.match(description)
        if rule is not None and rule.action == "error":
            error = errors.APIError(rule.status, rule.reason, rule.message, details={})
            return error_response(error)
        if rule is not None and rule.action == "delay":
            await asyncio.sleep(rule.delay)
        if rule is not None and rule.action == "hold" and rule.phase == "before":
            if await self.faults.hold(rule, description) == "drop":
                return _drop(request)
        response = await self._handle(request, target)
        if rule is not None and rule.action == "hold" and rule.phase == "after":
            if await self.faults.hold(rule, description) == "drop":
                return _drop(request)
        return response

    async def _handle(self, request: web.Request, target: routing.Target) -> web.StreamResponse:
        resources = self.resources
        try:
            if target.verb == "watch":
                return await resources.watch(target, request)
            body = None
            if request.can_read_body:
                raw = await request.read()
                body = handlers.decode_body(raw, request.headers.get("Content-Type", ""))
            match target.verb:
                case "get":
                    result = resources.get(target, request)
                case "list":
                    result = resources.list_objects(target, request)
                case "create":
                    result = resources.create(target, request, body)
                case "update":
                    result = resources.update(target, request, body)
                case "patch":
                    result = resources.patch(target, request, body)
                case "delete":
                    result = resources.delete(target, request, body)
                case _:
                    result = resources.delete_collection(target, request, body)
        except errors.APIError as error:
            return error_response(error)
        except Exception as error:  # a bug: respond 500 as kube-apiserver does, and log it
            logger.exception(f"Failed to handle {request.method} {request.path_qs}.")
            return error_response(errors.internal(str(error)))
        headers = CIMultiDict({"Content-Type": "application/json"})
        for warning in result.warnings:
            headers.add("Warning", f'299 - "{warning.replace(chr(34), chr(92) + chr(34))}"')
        return web.Response(body=orjson.dumps(result.body), status=result.status, headers=headers)


def _drop(request: web.Request) -> web.Response:
    """Close the client's connection without a response, as a crashed server would."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)
