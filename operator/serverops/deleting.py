"""The hard delete of a Server: the work the finalizer does before it lets the server go.

It runs as two kopf handlers, one after the other. :func:`begin` checks the lock and
the reclaim interval and records which deletion runs. :func:`free` then either records
the server as a DeletedServer (a soft delete, see :mod:`softdeleting`) or follows
Nova's order for DELETE /servers/{id}: destroy the instance, then free the network
(delete the ports made for the server, unbind the user's own). kopf releases the
finalizer after both.

Every step reads the state it acts on, so the next run finishes a run that was
interrupted at any point, even by SIGKILL. A port that is gone counts as freed, and an
unbind only touches a port that is still bound to this very server.
"""

from typing import Any

import kopf

from serverops import (
    approvals,
    conditions,
    constants,
    intervals,
    metrics,
    softdeleting,
    storages,
)
from serverops.building import InvalidNetworkItem, ref_of, wanted_ports
from serverops.compute import ServerRef
from serverops.network import Outcome, PortRecord, freed_summary
from serverops.runtime import Runtime


async def begin(
    *, body: kopf.Body, patch: kopf.Patch, runtime: Runtime, logger: kopf.Logger
) -> None:
    """Hold the deletion, or record in the status which deletion has begun.

    A locked server, or one whose reclaim interval is invalid, is held: nothing is freed
    and nothing is guessed. Otherwise the status records ``taskState: deleting`` (a hard
    delete) or ``soft-deleting`` with the reclaim time. It goes through kopf's ``patch``,
    so kopf writes it when this step ends and the write's event starts :func:`free` with
    a body that carries it.
    """
    server = ref_of(body)
    status: dict[str, Any] = dict(body.status)
    started = status.get("taskState") in (constants.TASK_DELETING, constants.TASK_SOFT_DELETING)

    # Nova checks the lock when the request arrives. A lock set after the deletion has
    # begun does not stop it: a half-freed server is of no use to anyone.
    if body.spec.get("locked") and not started:
        await _check_lock(body=body, runtime=runtime, logger=logger)

    if started and not is_blocked(status):
        return

    try:
        interval = softdeleting.reclaim_interval(body, default=runtime.config.reclaim_interval)
    except intervals.InvalidInterval as error:
        message = f"{error} Fix the annotation to let the deletion of server {server} finish."
        await hold(
            body=body,
            runtime=runtime,
            reason=constants.REASON_INVALID_RECLAIM_INTERVAL,
            message=message,
            logger=logger,
        )
        raise kopf.TemporaryError(message, delay=storages.UNTIL_NEXT_EVENT) from None

    if interval:
        patch.status["taskState"] = constants.TASK_SOFT_DELETING
        patch.status["reclaimAt"] = softdeleting.reclaim_time(body, interval)
        patch.status["conditions"] = _deleting_conditions(
            body,
            reason=constants.REASON_SOFT_DELETING,
            message=f"Server {server} is being soft-deleted.",
        )
        logger.info(f"Soft-deleting server {server}, restorable for {interval}.")
    else:
        patch.status["taskState"] = constants.TASK_DELETING
        patch.status["conditions"] = _deleting_conditions(
            body, reason=constants.REASON_DELETING, message=f"Server {server} is being deleted."
        )
        logger.info(f"Deleting server {server}.")


async def _check_lock(*, body: kopf.Body, runtime: Runtime, logger: kopf.Logger) -> None:
    """Hold a locked server's deletion, unless an administrator's approval covers it."""
    server = ref_of(body)
    override = approved_override(body, runtime)
    if override is not None:
        message = (
            f"Deletion of locked server {server} goes ahead: the administrator "
            f"{override.user} approved it at {softdeleting.format_time(override.at)}."
        )
        kopf.warn(body, reason=constants.REASON_LOCK_OVERRIDDEN, message=message)
        logger.warning(message)
        return

    message = held_message(server, body.spec.get("lockedReason"))
    await hold(
        body=body, runtime=runtime, reason=constants.REASON_LOCKED, message=message, logger=logger
    )

    # An unlock is an event on the server, so the deletion resumes at once.
    raise kopf.TemporaryError(message, delay=storages.UNTIL_NEXT_EVENT)


async def free(*, body: kopf.Body, runtime: Runtime, logger: kopf.Logger) -> None:
    """Record a soft-deleted server, or destroy its instance and free its ports."""
    server = ref_of(body)
    task = body.status.get("taskState")

    # Only a deletion that begin() let through does anything, whatever kopf's order.
    if task not in (constants.TASK_DELETING, constants.TASK_SOFT_DELETING):
        raise kopf.TemporaryError(
            f"Deletion of server {server} has not begun yet.", delay=storages.UNTIL_NEXT_EVENT
        )

    ports = await gather_ports(body=body, server=server, runtime=runtime)
    if task == constants.TASK_SOFT_DELETING:
        if await softdeleting.record(body=body, ports=ports, runtime=runtime, logger=logger):
            observe_release(body, runtime=runtime, flow="soft", outcome="soft_deleted")
            return

    await runtime.compute.destroy(server)
    outcomes = await free_ports(server=server, ports=ports, runtime=runtime)
    observe_release(body, runtime=runtime, flow="hard", outcome="hard_deleted")
    logger.info(f"Deleted server {server}: {freed_summary(outcomes)}.")


async def free_ports(
    *, server: ServerRef, ports: list[PortRecord], runtime: Runtime
) -> list[tuple[PortRecord, Outcome]]:
    """Delete the created ports and detach the attached ones; wait for deletions to end."""
    outcomes: list[tuple[PortRecord, Outcome]] = []
    for port in ports:
        if port.created:
            outcome = await runtime.network.delete_port(server, port)
        else:
            outcome = await runtime.network.detach_port(server, port)
        outcomes.append((port, outcome))

    # Another controller's finalizer can keep a deleted port. The server is released
    # only after the port is gone, so that nothing outlives its server unnoticed.
    waiting = [port.name for port, outcome in outcomes if outcome is Outcome.WAITING]
    if waiting:
        raise kopf.TemporaryError(
            f"Waiting for ports {', '.join(waiting)} of server {server} to be gone.",
            delay=runtime.config.port_release_poll,
        )
    return outcomes


async def gather_ports(*, body: kopf.Body, server: ServerRef, runtime: Runtime) -> list[PortRecord]:
    """Gather every port of the server, also those that a crash kept out of its status."""
    records: dict[str, PortRecord] = {}
    for entry in body.status.get("ports", []):
        record = PortRecord.from_status(entry)
        records[record.name] = record

    # The watch also lists ports that were made or bound just before a crash, which
    # the status may miss.
    for record in runtime.network.known_ports(server):
        records.setdefault(record.name, record)

    # The names derive from the spec, so a port made a moment ago, before the watch
    # reported it, is found by name. A detach is guarded by the binding, so trying one
    # on a port that this server never held changes nothing.
    try:
        wanted = wanted_ports(server, list(body.spec.get("networks", [])), list(records.values()))
    except InvalidNetworkItem:
        wanted = []
    for item in wanted:
        if item.name in records:
            continue
        if item.origin == constants.ORIGIN_CREATED:
            found = await runtime.network.find_created_port(server, name=item.name)
            if found is not None:
                records[item.name] = found
        else:
            records[item.name] = PortRecord(name=item.name, origin=constants.ORIGIN_ATTACHED)

    return list(records.values())


async def hold(
    *, body: kopf.Body, runtime: Runtime, reason: str, message: str, logger: kopf.Logger
) -> None:
    """Record ``DeletionBlocked=True`` with the reason, and post one Warning when it starts."""
    status: dict[str, Any] = dict(body.status)
    listed = list(status.get("conditions", []))
    blocked = conditions.find(listed, constants.CONDITION_DELETION_BLOCKED)
    newly_blocked = not is_blocked(status)
    if (
        blocked is not None
        and not newly_blocked
        and blocked.get("reason") == reason
        and blocked.get("message") == message
    ):
        return

    listed = conditions.with_condition(
        listed,
        kind=constants.CONDITION_DELETION_BLOCKED,
        status=True,
        reason=reason,
        message=message,
        generation=body.metadata.get("generation"),
    )
    namespace = str(body.metadata.namespace)
    api = runtime.servers if body.get("kind") == "Server" else runtime.deleted_servers
    await api.patch(
        namespace=namespace,
        name=str(body.metadata.name),
        patch={"status": {"conditions": listed}},
        status=True,
    )
    if newly_blocked:
        metrics.DELETIONS.labels("held").inc()
        kopf.warn(body, reason=constants.CONDITION_DELETION_BLOCKED, message=message)
        logger.warning(message)


def _deleting_conditions(
    body: kopf.Body, *, reason: str, message: str
) -> list[conditions.Condition]:
    generation = body.metadata.get("generation")
    listed = list(body.status.get("conditions", []))
    listed = conditions.with_condition(
        listed,
        kind=constants.CONDITION_READY,
        status=False,
        reason=reason,
        message=message,
        generation=generation,
    )
    return conditions.with_condition(
        listed,
        kind=constants.CONDITION_DELETION_BLOCKED,
        status=False,
        reason=constants.REASON_NOT_BLOCKED,
        message="Nothing holds the deletion of this server.",
        generation=generation,
    )


def observe_release(body: kopf.Body, *, runtime: Runtime, flow: str, outcome: str) -> None:
    """Count a finished deletion, and how long it took since its deletionTimestamp."""
    metrics.DELETIONS.labels(outcome).inc()
    deleted_at = body.metadata.get("deletionTimestamp")
    if deleted_at:
        seconds = (runtime.clock() - softdeleting.parse_time(str(deleted_at))).total_seconds()
        metrics.DELETION_SECONDS.labels(flow).observe(max(seconds, 0.0))


def approved_override(body: kopf.Body, runtime: Runtime) -> approvals.Approval | None:
    """Return the administrator's approval of this very deletion, if the object has one.

    Only the admission webhook can write a valid one, so a deletion of a locked object
    that slipped past a missing webhook finds none and stays held.
    """
    text = body.metadata.annotations.get(approvals.ANNOTATION)
    deleted_at = body.metadata.get("deletionTimestamp")
    if not text or not deleted_at:
        return None
    approval = approvals.decode(str(text), runtime.config.approval_key)
    moment = softdeleting.parse_time(str(deleted_at))
    if not approvals.approves(approval, uid=str(body.metadata.uid), deleted_at=moment):
        return None
    return approval


def held_message(server: ServerRef, reason: object) -> str:
    text = str(reason or "").strip().rstrip(".")
    because = f": {text}" if text else " (no reason given)"
    return (
        f"Deletion of server {server} is held because the server is locked{because}. "
        f"Set spec.locked to false to let the deletion finish."
    )


def is_blocked(status: dict[str, Any]) -> bool:
    listed = list(status.get("conditions", []))
    return conditions.is_true(listed, constants.CONDITION_DELETION_BLOCKED)
