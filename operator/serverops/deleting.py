"""The hard delete of a Server: the work the finalizer does before it lets the server go.

It runs as two kopf handlers, one after the other. :func:`begin` checks the lock and
records ``taskState: deleting``; :func:`free` follows Nova's order for DELETE
/servers/{id}: destroy the instance, then free the network (delete the ports made for
the server, unbind the user's own). kopf releases the finalizer after both.

Every step reads the state it acts on, so the next run finishes a run that was
interrupted at any point, even by SIGKILL. A port that is gone counts as freed, and an
unbind only touches a port that is still bound to this very server.
"""

from typing import Any

import kopf

from serverops import conditions, constants, storages
from serverops.building import InvalidNetworkItem, ref_of, wanted_ports
from serverops.compute import ServerRef
from serverops.network import PortRecord
from serverops.runtime import Runtime


async def begin(
    *, body: kopf.Body, patch: kopf.Patch, runtime: Runtime, logger: kopf.Logger
) -> None:
    """Hold the deletion of a locked server, or record in its status that it has begun.

    The status goes through kopf's ``patch``, so kopf writes it when this step ends and
    the write's event starts :func:`free` with a body that carries it. Nothing is freed
    in this step, so a lock stops the deletion before anything is lost.
    """
    server = ref_of(body)
    status: dict[str, Any] = dict(body.status)
    already_deleting = status.get("taskState") == constants.TASK_DELETING

    # Nova checks the lock when the request arrives. A lock set after the freeing has
    # begun does not stop it: a half-freed server is of no use to anyone.
    if body.spec.get("locked") and not already_deleting:
        message = _held_message(server, body.spec.get("lockedReason"))
        await _hold(body=body, runtime=runtime, message=message, logger=logger)

        # An unlock is an event on the server, so the deletion resumes at once.
        raise kopf.TemporaryError(message, delay=storages.UNTIL_NEXT_EVENT)

    if already_deleting and not _is_blocked(status):
        return

    patch.status["taskState"] = constants.TASK_DELETING
    patch.status["conditions"] = _deleting_conditions(body)
    logger.info(f"Deleting server {server}.")


async def free(*, body: kopf.Body, runtime: Runtime, logger: kopf.Logger) -> None:
    """Destroy the server's instance, delete its created ports and detach attached ones."""
    server = ref_of(body)

    # Only a deletion that begin() let through frees anything, whatever kopf's order.
    if body.status.get("taskState") != constants.TASK_DELETING:
        raise kopf.TemporaryError(
            f"Deletion of server {server} has not begun yet.", delay=storages.UNTIL_NEXT_EVENT
        )

    await runtime.compute.destroy(server)

    ports = await _ports_to_free(body=body, server=server, runtime=runtime)
    waiting: list[str] = []
    for port in ports:
        if port.created:
            if not await runtime.network.delete_port(server, port):
                waiting.append(port.name)
        else:
            await runtime.network.detach_port(server, port)

    # Another controller's finalizer can keep a deleted port. The server is released
    # only after the port is gone, so that nothing outlives its server unnoticed.
    if waiting:
        raise kopf.TemporaryError(
            f"Waiting for ports {', '.join(waiting)} of server {server} to be gone.",
            delay=runtime.config.port_release_poll,
        )

    created = sum(1 for port in ports if port.created)
    logger.info(
        f"Deleted server {server}: {created} created ports deleted, "
        f"{len(ports) - created} attached ports detached."
    )


async def _ports_to_free(
    *, body: kopf.Body, server: ServerRef, runtime: Runtime
) -> list[PortRecord]:
    """Gather every port of the server, also those a crash kept out of its status."""
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
        wanted = wanted_ports(server, list(body.spec.get("networks", [])))
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


async def _hold(*, body: kopf.Body, runtime: Runtime, message: str, logger: kopf.Logger) -> None:
    status: dict[str, Any] = dict(body.status)
    listed = list(status.get("conditions", []))
    blocked = conditions.find(listed, constants.CONDITION_DELETION_BLOCKED)
    newly_blocked = not _is_blocked(status)
    if (
        blocked is not None
        and not newly_blocked
        and blocked.get("reason") == constants.REASON_LOCKED
        and blocked.get("message") == message
    ):
        return

    listed = conditions.with_condition(
        listed,
        kind=constants.CONDITION_DELETION_BLOCKED,
        status=True,
        reason=constants.REASON_LOCKED,
        message=message,
        generation=body.metadata.get("generation"),
    )
    server = ref_of(body)
    await runtime.servers.patch(
        namespace=server.namespace,
        name=server.name,
        patch={"status": {"conditions": listed}},
        status=True,
    )
    if newly_blocked:
        kopf.warn(body, reason=constants.CONDITION_DELETION_BLOCKED, message=message)
        logger.warning(message)


def _deleting_conditions(body: kopf.Body) -> list[conditions.Condition]:
    server = ref_of(body)
    generation = body.metadata.get("generation")
    listed = list(body.status.get("conditions", []))
    listed = conditions.with_condition(
        listed,
        kind=constants.CONDITION_READY,
        status=False,
        reason=constants.REASON_DELETING,
        message=f"Server {server} is being deleted.",
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


def _held_message(server: ServerRef, reason: object) -> str:
    text = str(reason or "").strip().rstrip(".")
    because = f": {text}" if text else " (no reason given)"
    return (
        f"Deletion of server {server} is held because the server is locked{because}. "
        f"Set spec.locked to false to let the deletion finish."
    )


def _is_blocked(status: dict[str, Any]) -> bool:
    listed = list(status.get("conditions", []))
    return conditions.is_true(listed, constants.CONDITION_DELETION_BLOCKED)
