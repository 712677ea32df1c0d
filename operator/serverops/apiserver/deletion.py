"""
Deletion of objects: DeleteOptions, finalizers and the deletionTimestamp.

A DELETE removes an object at once when it has no finalizers and returns 200 with a
``Status`` of Success. Otherwise the object gets a ``deletionTimestamp`` (with
``deletionGracePeriodSeconds: 0`` and one more ``generation``) and stays until its
finalizers are removed, and the response is the object. The propagation policy adds the
garbage collector's finalizer: ``foregroundDeletion`` for Foreground, ``orphan`` for
Orphan, none for Background (the default). A repeated DELETE of a terminating object
changes only those two finalizers. Namespaces keep their own ``spec.finalizers``,
which the namespace controller clears once their content is gone.
"""

from __future__ import annotations

from typing import Any

from serverops.apiserver import admission, errors, selectors
from serverops.apiserver.registry import Registry, copy_object
from serverops.apiserver.resources import Object, ResourceType

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
_POLICIES = ("Foreground", "Background", "Orphan")


def parse_delete_options(body: Any, query: dict[str, str]) -> dict[str, Any]:
    """Merge DeleteOptions from the body with those given as query parameters."""
    options: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        options["orphanDependents"] = query["orphanDependents"] == "true"
    if "gracePeriodSeconds" in query:
        try:
            options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
        except ValueError:
            raise errors.bad_request(
                f"invalid gracePeriodSeconds {query['gracePeriodSeconds']!r}: it must be an integer"
            ) from None
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in _POLICIES:
        raise errors.APIError(
            422,
            "Invalid",
            f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
            f'{errors.quote(str(policy))}: supported values: "Foreground", "Background", '
            f'"Orphan", "nil"',
            details={"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": []},
        )
    if policy is not None and options.get("orphanDependents") is not None:
        raise errors.APIError(
            422,
            "Invalid",
            'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: '
            f"{errors.quote(str(policy))}: orphanDependents and deletionPropagation cannot be "
            "both set",
            details={"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": []},
        )
    return options


def _policy(options: dict[str, Any]) -> str | None:
    if options.get("propagationPolicy"):
        return str(options["propagationPolicy"])
    if options.get("orphanDependents") is True:
        return "Orphan"
    if options.get("orphanDependents") is False:
        return "Background"
    return None


def _check_preconditions(rtype: ResourceType, obj: Object, options: dict[str, Any]) -> None:
    preconditions = options.get("preconditions") or {}
    meta = obj["metadata"]
    kind = errors.qualified(rtype.kind, rtype.group)
    details = {"name": meta["name"], "group": rtype.group, "kind": rtype.kind}
    if not rtype.group:
        del details["group"]
    uid = preconditions.get("uid")
    if uid and uid != meta["uid"]:
        message = (
            f"Operation cannot be fulfilled on {kind} {errors.quote(meta['name'])}: the UID in the "
            f"precondition ({uid}) does not match the UID in record ({meta['uid']}). The object "
            "might have been deleted and then recreated"
        )
        raise errors.APIError(409, "Conflict", message, details=details)
    version = preconditions.get("resourceVersion")
    if version and version != meta["resourceVersion"]:
        message = (
            f"Operation cannot be fulfilled on {kind} {errors.quote(meta['name'])}: the "
            f"ResourceVersion in the precondition ({version}) does not match the ResourceVersion "
            f"in record ({meta['resourceVersion']}). The object might have been modified"
        )
        raise errors.APIError(409, "Conflict", message, details=details)


def _apply_policy(finalizers: list[str], policy: str | None) -> list[str]:
    result = list(finalizers)
    if policy == "Foreground":
        result = [item for item in result if item != ORPHAN]
        if FOREGROUND not in result:
            result.append(FOREGROUND)
    elif policy == "Orphan":
        result = [item for item in result if item != FOREGROUND]
        if ORPHAN not in result:
            result.append(ORPHAN)
    elif policy == "Background":
        result = [item for item in result if item not in (FOREGROUND, ORPHAN)]
    return result


def success_status(rtype: ResourceType, obj: Object) -> Object:
    """Build the ``Status`` body of a deletion that removed the object at once."""
    details: dict[str, Any] = {"name": obj["metadata"]["name"]}
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = rtype.plural
    details["uid"] = obj["metadata"]["uid"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def delete(
    registry: Registry,
    rtype: ResourceType,
    namespace: str,
    name: str,
    options: dict[str, Any],
    context: admission.RequestContext,
) -> tuple[bool, Object]:
    """Delete one object; return whether it is gone, and the object or the Status body."""
    old = registry.get(rtype, namespace, name)
    _check_preconditions(rtype, old, options)
    # Mutating webhooks are called for deletes too; a patch of theirs is an error then.
    registry.admission.mutate(
        operation="DELETE",
        resource=rtype,
        subresource="",
        namespace=old["metadata"].get("namespace", ""),
        name=name,
        object=None,
        old_object=old,
        context=context,
    )
    registry.admission.admit(
        operation="DELETE",
        resource=rtype,
        subresource="",
        namespace=old["metadata"].get("namespace", ""),
        name=name,
        object=None,
        old_object=old,
        context=context,
    )

    # A first deletion may add kind-specific finalizers; every one may change the
    # garbage collector's finalizers according to the propagation policy.
    new = copy_object(old)
    meta = new["metadata"]
    if not meta.get("deletionTimestamp"):
        rtype.strategy.prepare_for_delete(new)
    finalizers = _apply_policy(meta.get("finalizers") or [], _policy(options))
    bucket = registry.bucket(rtype)
    if not finalizers and not rtype.strategy.pending_finalization(new):
        if not context.dry_run:
            registry.store.remove(bucket, old)
        return True, success_status(rtype, old)

    # Otherwise the object stays, marked as being deleted, until its finalizers finish.
    if finalizers:
        meta["finalizers"] = finalizers
    else:
        meta.pop("finalizers", None)
    if not meta.get("deletionTimestamp"):
        _mark_deleted(registry, rtype, meta)
    if new != old and not context.dry_run:
        registry.store.commit(bucket, new, old)
    return False, new


def _mark_deleted(registry: Registry, rtype: ResourceType, meta: dict[str, Any]) -> None:
    meta["deletionTimestamp"] = registry.now()
    if rtype.key != ("", "namespaces"):
        meta["deletionGracePeriodSeconds"] = 0
    if rtype.tracks_generation and "generation" in meta:
        meta["generation"] = int(meta["generation"]) + 1


def delete_collection(
    registry: Registry,
    rtype: ResourceType,
    namespace: str | None,
    *,
    label_selector: selectors.LabelSelector,
    field_selector: selectors.FieldSelector,
    options: dict[str, Any],
    context: admission.RequestContext,
) -> list[Object]:
    """Delete every matching object; return the objects as they were before deletion."""
    bucket = registry.bucket(rtype)
    matching = [
        obj
        for obj in bucket.iterate(namespace if rtype.namespaced else None)
        if label_selector.matches(obj["metadata"].get("labels"))
        and field_selector.matches(obj, rtype.field_getters)
    ]
    for obj in matching:
        meta = obj["metadata"]
        try:
            delete(registry, rtype, meta.get("namespace", ""), meta["name"], options, context)
        except errors.APIError as error:
            if error.code != 404:
                raise
    return matching
