"""
Handlers of the resource verbs: get, list, watch, create, update, patch, delete.

Each handler turns a parsed :class:`~serverops.apiserver.routing.Target` and the
request's query and body into a call of the registry. It turns the result into the
JSON body that kube-apiserver would send: the object, a ``<Kind>List``, a ``Table``
when the client asks for one (``kubectl get``), or ``PartialObjectMetadata``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
import yaml
from aiohttp import web

from serverops.apiserver import (
    admission,
    cluster,
    deletion,
    errors,
    filters,
    listing,
    patching,
    protobuf,
    selectors,
    tables,
    watch,
)
from serverops.apiserver.resources import Object, ResourceType
from serverops.apiserver.routing import Target

_PARTIAL = "as=PartialObjectMetadata"
_DRY_RUN_VALUES = ("", "All")
_FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


@dataclasses.dataclass
class Settings:
    """Tunables of the HTTP layer."""

    bookmark_interval: float = 60.0
    default_watch_timeout: float = 1800.0


@dataclasses.dataclass
class Result:
    """A handler's response before encoding."""

    status: int
    body: Any
    warnings: list[str] = dataclasses.field(default_factory=list)


def context_for(request: web.Request, query: Mapping[str, str]) -> admission.RequestContext:
    """Build the context of a client's write: its user, dry run, validation and options."""
    dry_run = query.get("dryRun", "")
    if dry_run not in _DRY_RUN_VALUES:
        raise errors.bad_request(f"Invalid dry run value: {dry_run!r}; supported values: All")
    validation = query.get("fieldValidation", "Warn")
    if validation not in _FIELD_VALIDATION:
        raise errors.bad_request(
            f"fieldValidation must be one of Strict, Warn, Ignore, not {validation!r}"
        )
    options = {key: query[key] for key in ("fieldManager", "fieldValidation") if key in query}
    return admission.RequestContext(
        user=filters.user_of(request),
        user_agent=request.headers.get("User-Agent", ""),
        dry_run=dry_run == "All",
        field_validation=validation,
        webhooks=True,
        options=options,
    )


def decode_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "protobuf" in content_type:
        return protobuf.decode(raw)
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw)
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as error:
        raise errors.bad_request(f"error decoding the request body: {error}") from None


class ResourceHandlers:
    """The verbs of the resource API over one cluster."""

    def __init__(self, state: cluster.Cluster, settings: Settings) -> None:
        self.cluster = state
        self.settings = settings
        self.lister = listing.Lister(state.store)
        self.watchers: set[watch.Watcher] = set()

    def namespace_of(self, target: Target) -> str:
        return target.namespace or "" if target.rtype.namespaced else ""

    # Reads ---------------------------------------------------------------------------

    def get(self, target: Target, request: web.Request) -> Result:
        rtype = target.rtype
        obj = rtype.present(
            self.cluster.registry.get(rtype, self.namespace_of(target), target.name or "")
        )
        accept = request.headers.get("Accept", "")
        if tables.wants_table(accept):
            meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return Result(200, self._table(rtype, [obj], request, meta))
        if _PARTIAL in accept.split(",")[0]:
            return Result(200, _partial(obj))
        return Result(200, obj)

    def list_objects(self, target: Target, request: web.Request) -> Result:
        rtype = target.rtype
        query = request.query
        limit = _int(query.get("limit", "0"), "limit")
        page = self.lister.page(
            rtype,
            target.namespace if rtype.namespaced else None,
            label_selector=selectors.parse_label_selector(query.get("labelSelector")),
            field_selector=selectors.parse_field_selector(
                query.get("fieldSelector"), rtype.field_getters
            ),
            limit=limit,
            continue_token=query.get("continue", ""),
        )

        meta: dict[str, Any] = {"resourceVersion": str(page.resource_version)}
        if page.continue_token or rtype.custom:
            meta["continue"] = page.continue_token
        if page.remaining is not None:
            meta["remainingItemCount"] = page.remaining
        items = [rtype.present(obj) for obj in page.items]

        accept = request.headers.get("Accept", "")
        if tables.wants_table(accept):
            table_meta = {key: value for key, value in meta.items() if value != ""}
            return Result(200, self._table(rtype, items, request, table_meta))
        if _PARTIAL in accept.split(",")[0]:
            body = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": [_partial(obj) for obj in items],
            }
            return Result(200, body)
        body = {
            "apiVersion": rtype.api_version,
            "kind": rtype.list_kind,
            "metadata": meta,
            "items": items,
        }
        return Result(200, body)

    def _table(
        self, rtype: ResourceType, items: list[Object], request: web.Request, meta: dict[str, Any]
    ) -> Object:
        include = request.query.get("includeObject", "Metadata")
        return tables.render(
            rtype, items, now=self.cluster.clock.now(), include_object=include, list_metadata=meta
        )

    async def watch(self, target: Target, request: web.Request) -> web.StreamResponse:
        rtype = target.rtype
        query = request.query
        version = query.get("resourceVersion", "")
        accept = request.headers.get("Accept", "")
        transform = None
        if tables.wants_table(accept):
            transform = lambda obj: self._table(rtype, [obj], request, {})  # noqa: E731
        elif _PARTIAL in accept.split(",")[0]:
            transform = _partial
        watch_request = watch.WatchRequest(
            rtype=rtype,
            namespace=target.namespace if rtype.namespaced else None,
            label_selector=selectors.parse_label_selector(query.get("labelSelector")),
            field_selector=selectors.parse_field_selector(
                query.get("fieldSelector"), rtype.field_getters
            ),
            resource_version=_int(version, "resourceVersion") if version else None,
            bookmarks=query.get("allowWatchBookmarks") in ("true", "1"),
            initial_events_end=query.get("sendInitialEvents") in ("true", "1"),
            timeout=float(_int(query["timeoutSeconds"], "timeoutSeconds"))
            if "timeoutSeconds" in query
            else self.settings.default_watch_timeout,
            transform=transform,
        )
        return await watch.serve(
            request,
            watch_request,
            self.cluster.store,
            self.watchers,
            bookmark_interval=self.settings.bookmark_interval,
        )

    # Writes --------------------------------------------------------------------------
    # Each write gets the request's context from the caller, which keeps it across the
    # retries that admission webhooks cause (see serverops.apiserver.admission).

    def create(self, target: Target, body: Any, context: admission.RequestContext) -> Result:
        obj = self.cluster.registry.create(target.rtype, self.namespace_of(target), body, context)
        return Result(201, target.rtype.present(obj), context.warnings)

    def update(self, target: Target, body: Any, context: admission.RequestContext) -> Result:
        obj = self.cluster.registry.update(
            target.rtype,
            self.namespace_of(target),
            target.name or "",
            body,
            context,
            subresource=target.subresource,
        )
        return Result(200, target.rtype.present(obj), context.warnings)

    def patch(
        self, target: Target, request: web.Request, body: Any, context: admission.RequestContext
    ) -> Result:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        rtype = target.rtype
        namespace = self.namespace_of(target)
        if content_type == patching.APPLY_PATCH:
            if not request.query.get("fieldManager"):
                problem = errors.required("fieldManager", "is required for apply patch")
                raise errors.invalid_object(
                    group="meta.k8s.io", kind="PatchOptions", name="", errors=[problem]
                )
            if self.cluster.registry.bucket(rtype).get(namespace, target.name or "") is None:
                if context.authorize_create is not None:
                    context.authorize_create()
                created = self.cluster.registry.create(rtype, namespace, body, context)
                return Result(201, rtype.present(created), context.warnings)
        obj = self.cluster.registry.patch(
            rtype,
            namespace,
            target.name or "",
            content_type=content_type,
            patch=body,
            context=context,
            subresource=target.subresource,
        )
        return Result(200, rtype.present(obj), context.warnings)

    def delete(
        self, target: Target, request: web.Request, body: Any, context: admission.RequestContext
    ) -> Result:
        options = deletion.parse_delete_options(body, dict(request.query))
        if "dryRun" in options and options["dryRun"]:
            context.dry_run = True
        context.options = _delete_options(options)
        gone, result = deletion.delete(
            self.cluster.registry,
            target.rtype,
            self.namespace_of(target),
            target.name or "",
            options,
            context,
        )
        return Result(200, result if gone else target.rtype.present(result), context.warnings)

    def delete_collection(
        self, target: Target, request: web.Request, body: Any, context: admission.RequestContext
    ) -> Result:
        rtype = target.rtype
        query = request.query
        options = deletion.parse_delete_options(body, dict(query))
        context.options = _delete_options(options)
        deleted = deletion.delete_collection(
            self.cluster.registry,
            rtype,
            target.namespace if rtype.namespaced else None,
            label_selector=selectors.parse_label_selector(query.get("labelSelector")),
            field_selector=selectors.parse_field_selector(
                query.get("fieldSelector"), rtype.field_getters
            ),
            options=options,
            context=context,
        )
        body = {
            "apiVersion": rtype.api_version,
            "kind": rtype.list_kind,
            "metadata": {"resourceVersion": str(self.cluster.store.resource_version)},
            "items": [rtype.present(obj) for obj in deleted],
        }
        return Result(200, body, context.warnings)

    def stop_watches(self) -> None:
        for watcher in list(self.watchers):
            watcher.stop()


def _delete_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the DeleteOptions fields for an admission review, without kind and dryRun."""
    return {
        key: value
        for key, value in options.items()
        if key not in ("kind", "apiVersion", "dryRun") and value is not None
    }


def _partial(obj: Object) -> Object:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise errors.bad_request(f"invalid {name} {text!r}: it must be an integer") from None
