"""Restore: a soft-deleted server comes back under its name, with the same ports.

The work is split between the two objects:

- On the DeletedServer, a request (the annotation ``compute.serverops.io/restore:
  "true"``) moves it to ``taskState: restoring`` with a resourceVersion test, so a
  reclaim that deletes it at the same moment either loses (its delete precondition
  fails) or wins (the test fails and the restore never starts). Then the Server is
  created under its original name, with the ``restored-from`` annotation naming the
  DeletedServer.
- On the Server, :mod:`building` sees the annotation, binds the old ports to the new
  uid, records ``restoredFrom`` in the Server's status, and calls :func:`finish`, which
  deletes the DeletedServer. Its purge reads ``restoredFrom`` and frees nothing.

The annotation stays on the Server as the mark of where it came from: removing it would
cost a write and gain nothing. Every step checks what is already done, so a restore
interrupted at any point resumes.
"""

from collections.abc import Mapping
from typing import Any, cast

import kopf

from serverops import conditions, constants, kubeapi, metrics
from serverops.runtime import Runtime


def record_name(body: kopf.Body) -> str:
    return f"{body.metadata.namespace}/{body.metadata.name}"


async def reconcile(*, body: kopf.Body, runtime: Runtime, logger: kopf.Logger) -> None:
    """Keep the DeletedServer's status, and carry out a requested restore."""
    status: dict[str, Any] = dict(body.status)
    task = str(status.get("taskState", ""))
    restoring = is_requested(body.metadata.annotations) and task in ("", constants.TASK_RESTORING)

    wanted = _status(body, restoring=restoring)
    if any(status.get(key) != value for key, value in wanted.items()):
        first_write = not status.get("status")
        await _write_status(body=body, runtime=runtime, status={**status, **wanted})
        if first_write:
            message = (
                f"Server {body.metadata.namespace}/{body.spec['originalName']} is soft-deleted. "
                f"Annotate this DeletedServer with {constants.ANNOTATION_RESTORE}=true to restore "
                f"it before {body.spec['reclaimAt']}, or delete it to purge it now."
            )
            kopf.event(body, type="Normal", reason=constants.REASON_SOFT_DELETED, message=message)
    if not restoring:
        return

    server = await _create_server(body=body, runtime=runtime)
    if server is None:
        await _give_up(body=body, runtime=runtime, logger=logger)
        return
    logger.info(
        f"Restoring DeletedServer {record_name(body)} as server "
        f"{body.metadata.namespace}/{body.spec['originalName']}."
    )


async def finish(
    *, server: kopf.Body, deleted: dict[str, Any], runtime: Runtime, logger: kopf.Logger
) -> None:
    """Complete a restore once the Server has taken the ports over and recorded
    ``restoredFrom``: delete the DeletedServer, whose purge then frees nothing.

    ``server`` is the body from before that status write, so a ``restoredFrom`` in it
    means that an earlier run got this far. The Events are posted again when that run may
    have stopped before the deletion, so that they are posted at least once.
    """
    namespace = str(server.metadata.namespace)
    name = str(deleted["metadata"]["name"])
    uid = str(deleted["metadata"]["uid"])
    if runtime.finished_restores.get(uid):
        return

    deleting = bool(deleted["metadata"].get("deletionTimestamp"))
    if server.status.get("restoredFrom") != name or not deleting:
        message = (
            f"Server {namespace}/{server.metadata.name} was restored from DeletedServer "
            f"{namespace}/{name}, with {_ports_text(len(deleted['spec'].get('ports', [])))}."
        )
        kopf.event(
            kopf.Body(cast(kopf.RawBody, deleted)),
            type="Normal",
            reason=constants.REASON_RESTORED,
            message=message,
        )
        kopf.event(server, type="Normal", reason=constants.REASON_RESTORED, message=message)
        metrics.DELETIONS.labels("restored").inc()
        logger.info(message)

    if not deleting:
        try:
            await runtime.deleted_servers.delete(namespace=namespace, name=name, uid=uid)
        except (kubeapi.NotFound, kubeapi.Conflict):
            pass
    runtime.finished_restores[uid] = str(server.metadata.name)


def is_requested(annotations: Mapping[str, Any]) -> bool:
    """Tell whether a DeletedServer's annotations request a restore.

    Only the annotation counts, never ``taskState: restoring`` alone: the admission webhook
    checks who sets the annotation, while the status subresource has no such check.
    """
    return annotations.get(constants.ANNOTATION_RESTORE) == "true"


def requests_restore_of(record: Mapping[str, Any], name: str) -> bool:
    """Tell whether ``record``, a DeletedServer, requests the restore of the server ``name``."""
    spec = record.get("spec") or {}
    metadata = record.get("metadata") or {}
    return bool(
        spec.get("originalName") == name and is_requested(metadata.get("annotations") or {})
    )


def source_of(*, server: kopf.Body, runtime: Runtime) -> dict[str, Any] | None:
    """Return the DeletedServer a restored server comes from, as the watch last saw it,
    while the restore still has work to do; None otherwise.

    The ``restored-from`` annotation alone proves nothing, because anyone who can create a
    Server can write it. The DeletedServer must also record this server's name and
    request a restore, and no purge may have begun. Until the server has taken the ports
    over, its spec must also be the recorded one, as :func:`_create_server` made it.
    """
    name = server.metadata.annotations.get(constants.ANNOTATION_RESTORED_FROM)
    if not name:
        return None
    deleted = runtime.tables.deleted_server(str(server.metadata.namespace), str(name))
    if deleted is None:
        return None
    if not requests_restore_of(deleted, str(server.metadata.name)):
        return None
    if (deleted.get("status") or {}).get("taskState") == constants.TASK_DELETING:
        return None
    finished = server.status.get("restoredFrom") == name
    if not finished and dict(server.spec) != deleted["spec"].get("server"):
        return None

    # A finished restore whose DeletedServer is on its way out needs nothing more.
    if finished and deleted["metadata"].get("deletionTimestamp"):
        return None
    return deleted


def _status(body: kopf.Body, *, restoring: bool) -> dict[str, Any]:
    listed = list(body.status.get("conditions", []))
    if restoring:
        listed = conditions.with_condition(
            listed,
            kind=constants.CONDITION_RESTORED,
            status=False,
            reason=constants.REASON_RESTORING,
            message=f"Restoring server {body.metadata.namespace}/{body.spec['originalName']}.",
            generation=body.metadata.get("generation"),
        )
    elif conditions.find(listed, constants.CONDITION_RESTORED) is None:
        listed = conditions.with_condition(
            listed,
            kind=constants.CONDITION_RESTORED,
            status=False,
            reason=constants.REASON_NOT_REQUESTED,
            message=(
                f'Not restored. Set the annotation {constants.ANNOTATION_RESTORE} to "true" '
                f"to restore the server."
            ),
            generation=body.metadata.get("generation"),
        )
    return {
        "status": constants.STATUS_SOFT_DELETED,
        "taskState": constants.TASK_RESTORING if restoring else "",
        "portCount": len(body.spec.get("ports", [])),
        "conditions": listed,
    }


async def _write_status(*, body: kopf.Body, runtime: Runtime, status: dict[str, Any]) -> None:
    # The resourceVersion test makes this write and a reclaim's delete exclusive: the
    # delete carries the version it saw as a precondition, so whichever comes second fails.
    operations: kubeapi.JSONPatch = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": body.metadata["resourceVersion"],
        },
        {"op": "add", "path": "/status", "value": status},
    ]
    try:
        await runtime.deleted_servers.patch(
            namespace=str(body.metadata.namespace),
            name=str(body.metadata.name),
            patch=operations,
            status=True,
        )
    except kubeapi.Invalid as error:
        raise kopf.TemporaryError(
            f"DeletedServer {record_name(body)} changed meanwhile; retrying on the new version.",
            delay=runtime.config.retry_delay,
        ) from error


async def _create_server(*, body: kopf.Body, runtime: Runtime) -> dict[str, Any] | None:
    """Create the Server back, or find the one an earlier attempt made; None if the name
    belongs to another Server."""
    namespace = str(body.metadata.namespace)
    name = str(body.spec["originalName"])
    annotations = dict(body.spec.get("annotations") or {})
    annotations[constants.ANNOTATION_RESTORED_FROM] = str(body.metadata.name)
    manifest = {
        "apiVersion": constants.API_VERSION,
        "kind": "Server",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(body.spec.get("labels") or {}),
            "annotations": annotations,
            "finalizers": [constants.FINALIZER],
        },
        "spec": dict(body.spec["server"]),
    }
    try:
        return await runtime.servers.create(namespace=namespace, body=manifest)
    except kubeapi.AlreadyExists:
        existing: dict[str, Any] | None = await runtime.servers.get(namespace=namespace, name=name)
    except kubeapi.Invalid:
        # The API server calls the webhook before it checks the name. So when an earlier
        # attempt made the Server and bound the ports, this create fails with 422 instead.
        try:
            existing = await runtime.servers.get(namespace=namespace, name=name)
        except kubeapi.NotFound:
            existing = None
        if existing is None or not _made_by(existing, body):
            raise

    if existing is not None and _made_by(existing, body):
        return existing
    return None


def _made_by(server: dict[str, Any], deleted: kopf.Body) -> bool:
    """Tell whether ``server`` is the one a restore from ``deleted`` created.

    Anyone can create a Server with the ``restored-from`` annotation before the restore
    runs, so the spec must be the recorded one too. A Server that differs is another
    server of that name, and the restore gives up as for any taken name.
    """
    marks = server.get("metadata", {}).get("annotations") or {}
    if marks.get(constants.ANNOTATION_RESTORED_FROM) != deleted.metadata.name:
        return False
    return bool(server.get("spec") == dict(deleted.spec["server"]))


async def _give_up(*, body: kopf.Body, runtime: Runtime, logger: kopf.Logger) -> None:
    """Leave everything as it was when the original name is taken, and say so."""
    namespace = str(body.metadata.namespace)
    name = str(body.spec["originalName"])
    message = (
        f"Cannot restore server {namespace}/{name}: another Server of that name exists. "
        f"Delete or rename it, then set the annotation {constants.ANNOTATION_RESTORE}=true again."
    )
    listed = conditions.with_condition(
        list(body.status.get("conditions", [])),
        kind=constants.CONDITION_RESTORED,
        status=False,
        reason=constants.REASON_NAME_TAKEN,
        message=message,
        generation=body.metadata.get("generation"),
    )
    status = {**dict(body.status), "taskState": "", "conditions": listed}
    await runtime.deleted_servers.patch(
        namespace=namespace, name=str(body.metadata.name), patch={"status": status}, status=True
    )

    # The request is withdrawn, so that setting it again is a change the operator sees.
    patch = {"metadata": {"annotations": {constants.ANNOTATION_RESTORE: None}}}
    await runtime.deleted_servers.patch(
        namespace=namespace, name=str(body.metadata.name), patch=patch
    )
    kopf.warn(body, reason=constants.REASON_NAME_TAKEN, message=message)
    logger.warning(message)


def _ports_text(count: int) -> str:
    return f"{count} {'port' if count == 1 else 'ports'}"
