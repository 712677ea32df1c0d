"""Purge: a soft-deleted server is freed for good, on reclaim or on a force delete.

Deleting a DeletedServer purges it, as Nova's ``forceDelete`` does: its instance is
destroyed, its created ports are deleted and its attached ports detached, exactly as a
hard delete would, and only then is the DeletedServer released. The reclaim is the same
purge, started by the operator itself when ``reclaimAt`` comes: :func:`reclaim_when_due`
deletes the DeletedServer then.

A purge never touches what a restore took: a DeletedServer whose restored Server has
recorded ``restoredFrom`` is released without freeing anything, and a port bound to
another server by now is left alone.
"""

import enum
from typing import Any

import kopf

from serverops import conditions, constants, deleting, kubeapi, metrics, restoring, softdeleting
from serverops.compute import ServerRef
from serverops.network import PortRecord, freed_summary
from serverops.runtime import Runtime

# The longest the reclaim waits in one go, so that a changed clock is noticed.
_MAX_WAIT = 300.0


class Restore(enum.Enum):
    """How far a restore of the DeletedServer being purged has come."""

    NONE = "none"
    RUNNING = "running"
    FINISHED = "finished"


def original_of(body: kopf.Body) -> ServerRef:
    return ServerRef(
        namespace=str(body.metadata.namespace),
        name=str(body.spec["originalName"]),
        uid=str(body.spec["originalUID"]),
    )


async def purge(
    *, body: kopf.Body, patch: kopf.Patch, runtime: Runtime, logger: kopf.Logger
) -> None:
    """Destroy the instance, delete the created ports and detach the attached ones."""
    status: dict[str, Any] = dict(body.status)
    record = f"{body.metadata.namespace}/{body.metadata.name}"

    # A restore that has created its Server owns the ports now: wait for it to finish.
    requested = restoring.is_requested(body.metadata.annotations)
    if status.get("taskState") == constants.TASK_RESTORING and requested:
        restore, restored_as = await _restore_state(body=body, runtime=runtime)
        if restore is Restore.RUNNING:
            raise kopf.TemporaryError(
                f"DeletedServer {record} is being restored; the purge waits for the restore.",
                delay=runtime.config.retry_delay,
            )
        if restore is Restore.FINISHED:
            logger.info(
                f"DeletedServer {record} was restored as server "
                f"{body.metadata.namespace}/{restored_as}; nothing to purge."
            )
            return

    if status.get("taskState") != constants.TASK_DELETING:
        await _check_lock(body=body, runtime=runtime, logger=logger)

    # kopf writes this with the finalizer's release, or while a port is waited for.
    patch.status["taskState"] = constants.TASK_DELETING
    patch.status["conditions"] = conditions.with_condition(
        list(status.get("conditions", [])),
        kind=constants.CONDITION_DELETION_BLOCKED,
        status=False,
        reason=constants.REASON_NOT_BLOCKED,
        message="Nothing holds the purge.",
        generation=body.metadata.get("generation"),
    )

    server = original_of(body)

    # A record of a server that still exists is no record of a deletion (a hand-made
    # DeletedServer, say): it is released, and nothing of that server is touched.
    live_name = runtime.live_servers(server.uid)
    if live_name and await _still_live(
        ServerRef(namespace=server.namespace, name=live_name, uid=server.uid), runtime=runtime
    ):
        message = (
            f"DeletedServer {record} names server {server.namespace}/{server.name} (uid "
            f"{server.uid}), which exists and is not being deleted; nothing is purged."
        )
        kopf.warn(body, reason=constants.REASON_RECORD_REJECTED, message=message)
        logger.warning(message)
        return

    await runtime.compute.destroy(server)

    ours = _ports_of_record(body=body, server=server, runtime=runtime)
    outcomes = await deleting.free_ports(server=server, ports=ours, runtime=runtime)
    deleting.observe_release(body, runtime=runtime, flow="purge", outcome="purged")

    message = f"Purged server {server.namespace}/{server.name}: {freed_summary(outcomes)}."
    kopf.event(body, type="Normal", reason=constants.REASON_PURGED, message=message)
    logger.info(message)


async def reclaim_when_due(
    *, body: kopf.Body, stopped: kopf.DaemonStopped, runtime: Runtime, logger: kopf.Logger
) -> None:
    """Delete the DeletedServer at its reclaim time, which starts the purge.

    ``body`` is kopf's live view of the object. The delete carries the resourceVersion
    it saw as a precondition, so a restore that started meanwhile wins: the delete then
    fails with a conflict and the reclaim looks again.
    """
    record = f"{body.metadata.namespace}/{body.metadata.name}"
    while not stopped:
        if body.metadata.get("deletionTimestamp"):
            return
        reclaim_at = softdeleting.parse_time(str(body.spec["reclaimAt"]))
        remaining = (reclaim_at - runtime.clock()).total_seconds()
        if remaining > 0:
            await stopped.wait(min(remaining, _MAX_WAIT))
            continue
        try:
            await runtime.deleted_servers.delete(
                namespace=str(body.metadata.namespace),
                name=str(body.metadata.name),
                uid=str(body.metadata.uid),
                resource_version=str(body.metadata["resourceVersion"]),
            )
        except kubeapi.NotFound:
            return
        except kubeapi.Conflict:
            logger.debug(f"DeletedServer {record} changed before its reclaim; looking again.")
            await stopped.wait(0.1)
            continue
        except kubeapi.APIError as error:
            logger.error(f"Failed to reclaim DeletedServer {record}: {error}; retrying.")
            await stopped.wait(runtime.config.retry_delay)
            continue

        late = (runtime.clock() - reclaim_at).total_seconds()
        metrics.RECLAIM_DELAY_SECONDS.observe(max(late, 0.0))
        logger.info(f"Reclaiming DeletedServer {record}, {late:.1f}s after its reclaim time.")
        return


async def _check_lock(*, body: kopf.Body, runtime: Runtime, logger: kopf.Logger) -> None:
    """Hold the purge of a locked server's record, unless an administrator approved it.

    Nova's forceDelete checks the lock; its reclaim does not. A force delete of a locked
    server's record is therefore held until an unlock or the reclaim time.
    """
    record = f"{body.metadata.namespace}/{body.metadata.name}"
    server_spec = dict(body.spec.get("server") or {})
    if not server_spec.get("locked"):
        return

    override = deleting.approved_override(body, runtime)
    if override is not None:
        message = (
            f"Purge of DeletedServer {record}, whose server was locked, goes ahead: the "
            f"administrator {override.user} approved it."
        )
        kopf.warn(body, reason=constants.REASON_LOCK_OVERRIDDEN, message=message)
        logger.warning(message)
        return

    reclaim_at = softdeleting.parse_time(str(body.spec["reclaimAt"]))
    remaining = (reclaim_at - runtime.clock()).total_seconds()
    if remaining <= 0:
        return
    reason = server_spec.get("lockedReason")
    message = (
        f"Purge of DeletedServer {record} is held because the server was locked"
        f"{': ' + str(reason).rstrip('.') if reason else ''}. It runs at the reclaim time "
        f"{body.spec['reclaimAt']}, or at once when an administrator deletes the record."
    )
    await deleting.hold(
        body=body, runtime=runtime, reason=constants.REASON_LOCKED, message=message, logger=logger
    )
    raise kopf.TemporaryError(message, delay=remaining)


def _ports_of_record(*, body: kopf.Body, server: ServerRef, runtime: Runtime) -> list[PortRecord]:
    """List the record's ports that are still its own to free."""
    ports: dict[str, PortRecord] = {}
    for entry in body.spec.get("ports", []):
        port = PortRecord.from_status(entry)
        ports[port.name] = port
    for port in runtime.network.known_ports(server):
        ports.setdefault(port.name, port)

    # A port that another server holds by now (a restore, or a user's re-attach after a
    # detach) is not this record's any more.
    return [
        port
        for port in ports.values()
        if runtime.network.holder_of(server, port) in (None, "", server.uid)
    ]


async def _still_live(server: ServerRef, *, runtime: Runtime) -> bool:
    """Confirm with a read what the tables say: the server exists, not being deleted.

    The tables can keep a server that was deleted between the start-up list and the
    watch, and a wrong "live" here would keep a record's ports forever.
    """
    try:
        current = await runtime.servers.get(namespace=server.namespace, name=server.name)
    except kubeapi.NotFound:
        return False
    metadata = current.get("metadata", {})
    return bool(metadata.get("uid") == server.uid and not metadata.get("deletionTimestamp"))


async def _restore_state(*, body: kopf.Body, runtime: Runtime) -> tuple[Restore, str]:
    """Return how far the restore of this DeletedServer has come, and its Server's name.

    A restore that this process finished is known without a read. Otherwise the Server is
    read, because its status may be newer than the watch has shown so far.
    """
    known = runtime.finished_restores.pop(str(body.metadata.uid), "")
    if known:
        return Restore.FINISHED, known

    name = str(body.spec["originalName"])
    try:
        server = await runtime.servers.get(namespace=str(body.metadata.namespace), name=name)
    except kubeapi.NotFound:
        return Restore.NONE, ""
    marks = server.get("metadata", {}).get("annotations") or {}
    if marks.get(constants.ANNOTATION_RESTORED_FROM) != body.metadata.name:
        return Restore.NONE, ""
    if server.get("status", {}).get("restoredFrom") == body.metadata.name:
        return Restore.FINISHED, name
    return Restore.RUNNING, name
