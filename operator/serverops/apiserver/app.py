"""
The aiohttp application: URL dispatch, faults, counters and non-resource endpoints.

Every request goes through :meth:`APIApplication.dispatch`. The debug paths are
handled first, without authentication. Every other request is authenticated, impersonated and
authorized (:mod:`serverops.apiserver.filters`). Non-resource paths (``/version``,
discovery, OpenAPI, health checks) then get their response directly. Resource requests
are parsed, matched against the fault rules, handled by
:class:`~serverops.apiserver.handlers.ResourceHandlers`, and counted. Writes that
admission webhooks must review go to them and run again once admitted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from serverops.apiserver import (
    accessreviews,
    admission,
    authorization,
    cluster,
    debug,
    discovery,
    errors,
    faults,
    filters,
    handlers,
    impersonation,
    openapi,
    reviews,
    routing,
    stats,
)

logger = logging.getLogger(__name__)

_PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2"
# How often a write may run again because the object changed while webhooks reviewed it.
_MAX_ADMISSION_ATTEMPTS = 10


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
        security: filters.Security,
        dispatcher: reviews.Dispatcher,
    ) -> None:
        self.cluster = state
        self.security = security
        self.dispatcher = dispatcher
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
        user_agent = request.headers.get("User-Agent", "")
        try:
            user = self.security.identify(request)
            request[filters.USER_KEY] = user
            attributes = filters.request_attributes(user, request.method, path, request.query)
            self.security.authorize(attributes)
        except errors.APIError as error:
            attributes = filters.request_attributes(
                filters.user_of(request), request.method, path, request.query
            )
            self.stats.record(_denied_key(attributes, error.code, user_agent, request))
            return error_response(error)
        except impersonation.ImpersonationError as error:
            self.stats.record(stats.RequestKey(verb=request.method.lower(), code=500, path=path))
            text = impersonation.internal_error_text(request.path_qs, error)
            return web.Response(text=text, status=500, content_type="text/plain")

        parts = [part for part in path.split("/") if part]
        split = routing.split_group_version(parts)
        if split is None:
            response = self._non_resource(request, parts)
            self.stats.record(
                stats.RequestKey(
                    verb=request.method.lower(),
                    user_agent=user_agent,
                    code=response.status,
                    path=path,
                    user=user.username,
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
        username = filters.user_of(request).username
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
                    user=username,
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
                user=username,
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
                case _:
                    result = await self._write(target, request, body)
        except errors.APIError as error:
            return error_response(error)
        except Exception as error:  # a bug: respond 500 as kube-apiserver does, and log it
            logger.exception(f"Failed to handle {request.method} {request.path_qs}.")
            return error_response(errors.internal(str(error)))
        headers = CIMultiDict({"Content-Type": "application/json"})
        for warning in result.warnings:
            headers.add("Warning", f'299 - "{warning.replace(chr(34), chr(92) + chr(34))}"')
        return web.Response(body=orjson.dumps(result.body), status=result.status, headers=headers)

    async def _write(
        self, target: routing.Target, request: web.Request, body: object
    ) -> handlers.Result:
        """Run a write, and again after the admission webhooks it needs have allowed it."""
        if target.rtype.key == (accessreviews.GROUP, accessreviews.PLURAL):
            user = filters.user_of(request)
            decided = accessreviews.review(body, user, self.security.authorizer)
            return handlers.Result(201, decided)
        context = handlers.context_for(request, request.query)
        if target.verb == "patch":
            attributes = filters.request_attributes(
                context.user, request.method, request.path, request.query
            )
            creation = dataclasses.replace(attributes, verb="create")
            context.authorize_create = lambda: self.security.authorize(creation)
        for _ in range(_MAX_ADMISSION_ATTEMPTS):
            context.warnings = []
            try:
                result = self._write_once(target, request, body, context)
            except admission.WebhooksPending as pending:
                if pending.mutating:
                    patched, warnings = await self.dispatcher.mutate(pending)
                    context.mutated[pending.digest] = patched
                else:
                    warnings = await self.dispatcher.review(pending)
                    context.admitted.add(pending.digest)
                context.admission_warnings.extend(warnings)
                continue
            result.warnings = [*context.admission_warnings, *result.warnings]
            return result
        raise errors.internal(
            f"the object changed during each of {_MAX_ADMISSION_ATTEMPTS} admission webhook reviews"
        )

    def _write_once(
        self,
        target: routing.Target,
        request: web.Request,
        body: object,
        context: admission.RequestContext,
    ) -> handlers.Result:
        resources = self.resources
        match target.verb:
            case "create":
                return resources.create(target, body, context)
            case "update":
                return resources.update(target, body, context)
            case "patch":
                return resources.patch(target, request, body, context)
            case "delete":
                return resources.delete(target, request, body, context)
        return resources.delete_collection(target, request, body, context)


def _denied_key(
    attributes: authorization.RequestAttributes,
    code: int,
    user_agent: str,
    request: web.Request,
) -> stats.RequestKey:
    """Count a request that authentication or authorization rejected."""
    user = attributes.user.username if code != 401 else ""
    if not attributes.resource_request:
        return stats.RequestKey(
            verb=request.method.lower(), user_agent=user_agent, code=code, path=request.path
        )
    return stats.RequestKey(
        verb=attributes.verb,
        group=attributes.group,
        resource=attributes.resource,
        subresource=attributes.subresource,
        namespace=attributes.namespace,
        name=attributes.name,
        user_agent=user_agent,
        code=code,
        user=user,
    )


def _drop(request: web.Request) -> web.Response:
    """Close the client's connection without a response, as a crashed server would."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)
