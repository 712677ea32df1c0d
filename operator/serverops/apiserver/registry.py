"""
The generic registry: reads and writes of objects with kube-apiserver's semantics.

Writes follow the steps of kube-apiserver's generic store. They decode and check the
body and the resourceVersion precondition (409), keep server-owned metadata, apply the
status-subresource split, and prune and default custom resources. Then they validate
(422 with causes), run admission, and commit under the next resourceVersion.
``metadata.generation`` grows only when the object's spec (everything but metadata and
status) changes. An update that leaves an object being deleted with no finalizers
removes it. Deletion lives in :mod:`serverops.apiserver.deletion`.
"""

from __future__ import annotations

import random
import uuid
from typing import Any, TypeVar, cast

import orjson

from serverops.apiserver import admission, clock, errors, metadata, patching, store
from serverops.apiserver.resources import Object, ResourceType

T = TypeVar("T")

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Fields of metadata that only the server sets; requests cannot change them.
_SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")


def copy_object(obj: T) -> T:
    """Deep-copy a JSON value; much faster than ``copy.deepcopy`` for plain data."""
    return cast(T, orjson.loads(orjson.dumps(obj)))


class Registry:
    """Reads and writes of all resources over one store."""

    def __init__(
        self,
        *,
        store: store.Store,
        clock: clock.Clock,
        admission: admission.Admission,
    ) -> None:
        self.store = store
        self.clock = clock
        self.admission = admission

    # Reads ---------------------------------------------------------------------------

    def bucket(self, rtype: ResourceType) -> store.Bucket:
        return self.store.bucket(rtype.key, namespaced=rtype.namespaced)

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Object:
        """Return the stored object; raise 404 when it does not exist."""
        obj = self.bucket(rtype).get(namespace if rtype.namespaced else "", name)
        if obj is None:
            raise errors.not_found(group=rtype.group, plural=rtype.plural, name=name)
        return obj

    def now(self) -> str:
        return clock.format_timestamp(self.clock.now())

    # Create --------------------------------------------------------------------------

    def create(
        self, rtype: ResourceType, namespace: str, body: Any, context: admission.RequestContext
    ) -> Object:
        """Create an object from a request body; return it as stored."""
        obj = self.decode(rtype, body)
        self._place_in_namespace(rtype, obj["metadata"], namespace)

        # Defaults come before validation, so that defaulted fields satisfy the schema.
        # Mutating webhooks see the defaulted object before the server fills its own
        # fields (uid, creation time, a generated name), as in kube-apiserver.
        self._apply_schema(rtype, obj, context)
        obj = self._mutate(rtype, "CREATE", "", obj, None, context)
        meta = obj["metadata"]
        self._initialize_metadata(rtype, meta, context)
        rtype.strategy.prepare_for_create(obj)
        problems = metadata.validate_object_meta(
            meta, name_is_label=rtype.name_is_label, path_segment_name=rtype.path_segment_name
        )
        problems += self._validate_schema(rtype, obj) + rtype.strategy.validate(obj)
        if problems:
            raise self._invalid(rtype, meta.get("name") or meta.get("generateName", ""), problems)

        # As in kube-apiserver, admission (e.g. a terminating namespace, 403) comes before
        # the check for an existing name (409).
        self.admission.admit(
            operation="CREATE",
            resource=rtype,
            subresource="",
            namespace=meta.get("namespace", ""),
            name=meta["name"],
            object=obj,
            old_object=None,
            context=context,
        )
        bucket = self.bucket(rtype)
        if bucket.get(meta.get("namespace", ""), meta["name"]) is not None:
            raise errors.already_exists(group=rtype.group, plural=rtype.plural, name=meta["name"])
        if not context.dry_run:
            self.store.commit(bucket, obj, None)
        return obj

    def _initialize_metadata(
        self, rtype: ResourceType, meta: dict[str, Any], context: admission.RequestContext
    ) -> None:
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        # A create that webhooks admitted runs again; it keeps the identity they saw.
        identity = context.created_identity
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = identity.get("name") or self._generate_name(rtype, meta)
        for key in (*_SYSTEM_FIELDS, "selfLink", "managedFields", "generation"):
            meta.pop(key, None)
        meta["uid"] = identity.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = identity.get("creationTimestamp") or self.now()
        if context.webhooks:
            identity.update(
                name=meta.get("name", ""),
                uid=meta["uid"],
                creationTimestamp=meta["creationTimestamp"],
            )
        if rtype.tracks_generation:
            meta["generation"] = 1

    def _place_in_namespace(
        self, rtype: ResourceType, meta: dict[str, Any], namespace: str
    ) -> None:
        if not rtype.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        meta["namespace"] = namespace

    def _generate_name(self, rtype: ResourceType, meta: dict[str, Any]) -> str:
        prefix = str(meta["generateName"])[:58]
        bucket = self.bucket(rtype)
        for _ in range(8):
            name = prefix + "".join(random.choices(_NAME_ALPHABET, k=5))
            if bucket.get(meta.get("namespace", ""), name) is None:
                return name
        return name

    def decode(self, rtype: ResourceType, body: Any) -> Object:
        """Check a request body's type fields and convert it to the stored shape."""
        _check_type_meta(rtype, body)
        obj: Object = copy_object(body)
        obj["apiVersion"] = rtype.api_version
        obj.setdefault("kind", rtype.kind)
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}

        problem = metadata.type_problem(obj["metadata"])
        if problem is None and rtype.schema is None:
            problem = _field_type_problem(obj, rtype) or rtype.strategy.type_problem(obj)
        if problem:
            raise errors.bad_request(
                f"{rtype.kind} in version {errors.quote(rtype.version)} cannot be handled as a "
                f"{rtype.kind}: {problem}"
            )
        if rtype.converter is not None:
            obj = rtype.converter.to_storage(obj)
        return obj

    # Schema --------------------------------------------------------------------------

    def _apply_schema(
        self, rtype: ResourceType, obj: Object, context: admission.RequestContext
    ) -> None:
        if rtype.schema is None:
            return
        unknown = rtype.schema.prune(obj)
        if unknown and context.field_validation != "Ignore":
            messages = [f"unknown field {errors.quote(path)}" for path in unknown]
            if context.field_validation == "Strict":
                raise errors.bad_request(
                    f"{rtype.kind} in version {errors.quote(rtype.version)} cannot be handled as "
                    f"a {rtype.kind}: strict decoding error: " + ", ".join(messages)
                )
            context.warnings.extend(messages)
        rtype.schema.default(obj)

    def _validate_schema(self, rtype: ResourceType, obj: Object) -> list[errors.FieldError]:
        return rtype.schema.validate(obj) if rtype.schema is not None else []

    def _invalid(
        self, rtype: ResourceType, name: str, problems: list[errors.FieldError]
    ) -> errors.APIError:
        return errors.invalid_object(group=rtype.group, kind=rtype.kind, name=name, errors=problems)

    # Update and patch ----------------------------------------------------------------

    def update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        context: admission.RequestContext,
        *,
        subresource: str = "",
    ) -> Object:
        """Replace an object (PUT); return it as stored."""
        old = self.get(rtype, namespace, name)
        new = self.decode(rtype, body)
        return self._update(rtype, old, new, context, subresource=subresource)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        *,
        content_type: str,
        patch: Any,
        context: admission.RequestContext,
        subresource: str = "",
    ) -> Object:
        """Apply a PATCH body of any supported type; return the object as stored."""
        old = self.get(rtype, namespace, name)
        current = rtype.present(old)
        if content_type == patching.JSON_PATCH:
            patched = patching.apply_json_patch(current, patch)
        elif content_type in (patching.MERGE_PATCH, patching.APPLY_PATCH):
            patched = patching.apply_merge_patch(current, patch)
        elif content_type == patching.STRATEGIC_MERGE_PATCH and rtype.patch_meta is not None:
            patched = patching.apply_strategic_merge_patch(current, patch, rtype.patch_meta)
        else:
            accepted = [patching.JSON_PATCH, patching.MERGE_PATCH, patching.APPLY_PATCH]
            if rtype.strategic_merge:
                accepted.insert(2, patching.STRATEGIC_MERGE_PATCH)
            raise errors.unsupported_media_type(content_type, accepted)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch must produce a JSON object")
        patched.setdefault("kind", rtype.kind)
        patched.setdefault("apiVersion", rtype.api_version)
        # The patched object keeps the stored resourceVersion unless the patch changes it,
        # in which case it is a precondition, as in kube-apiserver.
        new = self.decode(rtype, patched)
        return self._update(rtype, old, new, context, subresource=subresource)

    def _update(
        self,
        rtype: ResourceType,
        old: Object,
        new: Object,
        context: admission.RequestContext,
        *,
        subresource: str,
    ) -> Object:
        old_meta = old["metadata"]
        self._check_identity(rtype, old_meta, new["metadata"])
        new = self._mutate(rtype, "UPDATE", subresource, new, old, context)
        requested = new["metadata"].get("resourceVersion")
        if requested and requested != old_meta["resourceVersion"]:
            raise errors.conflict(
                group=rtype.group,
                plural=rtype.plural,
                name=old_meta["name"],
                reason=errors.STALE_OBJECT,
            )

        # Build the object as it would be stored, then validate it.
        new = self._split_subresource(rtype, old, new, subresource)
        meta = new["metadata"]
        self._keep_system_fields(rtype, old_meta, meta)
        self._apply_schema(rtype, new, context)
        if not subresource:
            rtype.strategy.prepare_for_update(new, old)
        problems = self._validate_update(rtype, new, old)
        if problems:
            raise self._invalid(rtype, old_meta["name"], problems)
        if rtype.tracks_generation and _spec_changed(rtype, new, old):
            meta["generation"] = int(old_meta.get("generation", 0)) + 1
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if new == old:
            return old  # a no-op update writes nothing and keeps the resourceVersion

        self.admission.admit(
            operation="UPDATE",
            resource=rtype,
            subresource=subresource,
            namespace=old_meta.get("namespace", ""),
            name=old_meta["name"],
            object=new,
            old_object=old,
            context=context,
        )
        if context.dry_run:
            return new
        return self._commit_update(rtype, new, old)

    def _mutate(
        self,
        rtype: ResourceType,
        operation: str,
        subresource: str,
        obj: Object,
        old: Object | None,
        context: admission.RequestContext,
    ) -> Object:
        """Return the object as the mutating webhooks patched it; the same one if none applies."""
        meta = obj["metadata"]
        patched = self.admission.mutate(
            operation=operation,
            resource=rtype,
            subresource=subresource,
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            object=obj,
            old_object=old,
            context=context,
        )
        if patched is None:
            return obj
        result = copy_object(patched)
        # A webhook cannot move the object: its type, name and namespace stay.
        result["apiVersion"] = obj["apiVersion"]
        result["kind"] = obj["kind"]
        if not isinstance(result.get("metadata"), dict):
            result["metadata"] = {}
        for key in ("name", "namespace"):
            if key in meta:
                result["metadata"][key] = meta[key]
        if rtype.schema is not None:
            # Prune and default what the webhooks added, without the request's
            # fieldValidation, which applies to the client's body only.
            rtype.schema.prune(result)
            rtype.schema.default(result)
        return result

    def _commit_update(self, rtype: ResourceType, new: Object, old: Object) -> Object:
        """Store an update, or remove the object when it was the last finalizer's."""
        bucket = self.bucket(rtype)
        meta = new["metadata"]
        finalized = not meta.get("finalizers") and not rtype.strategy.pending_finalization(new)
        if meta.get("deletionTimestamp") and finalized:
            meta.pop("finalizers", None)
            return self.store.remove(bucket, new).object
        self.store.commit(bucket, new, old)
        return new

    def _check_identity(
        self, rtype: ResourceType, old_meta: dict[str, Any], meta: dict[str, Any]
    ) -> None:
        if meta.get("name") and meta["name"] != old_meta["name"]:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({old_meta['name']})"
            )
        namespace = old_meta.get("namespace", "")
        if rtype.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        meta["name"] = old_meta["name"]
        if rtype.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _split_subresource(
        self, rtype: ResourceType, old: Object, new: Object, subresource: str
    ) -> Object:
        """Keep only what the addressed (sub)resource may change."""
        if subresource == "status":
            result = copy_object(old)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
            return result
        if subresource == "finalize":
            result = copy_object(old)
            finalizers = (new.get("spec") or {}).get("finalizers")
            result.setdefault("spec", {})["finalizers"] = finalizers or []
            return result
        if rtype.status_subresource:
            if "status" in old:
                new["status"] = copy_object(old["status"])
            else:
                new.pop("status", None)
        return new

    def _keep_system_fields(
        self, rtype: ResourceType, old_meta: dict[str, Any], meta: dict[str, Any]
    ) -> None:
        if not meta.get("uid"):
            meta["uid"] = old_meta["uid"]
        for key in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if "generation" in old_meta:
            meta["generation"] = old_meta["generation"]
        else:
            meta.pop("generation", None)
        meta.pop("selfLink", None)
        meta.pop("managedFields", None)
        if "generateName" in old_meta and "generateName" not in meta:
            meta["generateName"] = old_meta["generateName"]
        if meta.get("finalizers") == []:
            del meta["finalizers"]

    def _validate_update(
        self, rtype: ResourceType, new: Object, old: Object
    ) -> list[errors.FieldError]:
        meta = new["metadata"]
        problems = metadata.validate_object_meta(
            meta, name_is_label=rtype.name_is_label, path_segment_name=rtype.path_segment_name
        )
        # kube-apiserver runs the shared update rules twice (generic store and strategy),
        # so a forbidden finalizer is listed twice among the causes.
        transition = metadata.validate_update(meta, old["metadata"])
        problems += transition + transition
        problems += self._validate_schema(rtype, new)
        problems += rtype.strategy.validate(new) + rtype.strategy.validate_update(new, old)
        return problems


def _spec_changed(rtype: ResourceType, new: Object, old: Object) -> bool:
    ignored = {"metadata", "status"} if rtype.status_subresource else {"metadata"}
    new_rest = {key: value for key, value in new.items() if key not in ignored}
    old_rest = {key: value for key, value in old.items() if key not in ignored}
    return new_rest != old_rest


def _field_type_problem(obj: Object, rtype: ResourceType) -> str | None:
    for field in rtype.object_fields:
        value = obj.get(field)
        if value is not None and not isinstance(value, dict):
            kind = _json_kind(value)
            return f"json: cannot unmarshal {kind} into Go struct field {rtype.kind}.{field}"
    return None


def _json_kind(value: Any) -> str:
    names = {str: "string", bool: "bool", int: "number", float: "number", list: "array"}
    return names.get(type(value), "value")


def _check_type_meta(rtype: ResourceType, body: Any) -> None:
    """Reject a body that is no object or names another kind or version."""
    if not isinstance(body, dict):
        raise errors.bad_request(
            f"the object provided is unrecognized (must be of type {rtype.kind})"
        )
    kind = body.get("kind")
    api_version = body.get("apiVersion")
    if not kind and not rtype.custom:
        # Built-in kinds decode into a known type, so the URL supplies what is missing.
        return
    if not kind:
        raise errors.bad_request(
            f"Object 'Kind' is missing in '{orjson.dumps(body).decode()[:200]}'"
        )
    if kind != rtype.kind:
        raise errors.bad_request(
            f"{kind} in version {errors.quote(str(api_version))} cannot be handled as a "
            f"{rtype.kind}: no kind {errors.quote(kind)} is registered"
        )
    if api_version and api_version != rtype.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rtype.api_version})"
        )
