"""Bringing a Server to what its spec asks for: its ports, its instance, its status.

:func:`reconcile` runs on creation, on every spec change and once after each operator
start. It is idempotent: each port has a name derived from the server and its spec, so a
second run finds what the first one made, and the status is written only when it differs.
"""

import collections
import dataclasses
from collections.abc import Sequence
from typing import Any

import kopf

from serverops import conditions, constants, restoring, storages
from serverops.compute import PowerState, ServerRef
from serverops.network import PortError, PortRecord
from serverops.ports import created_port_name
from serverops.runtime import Runtime


@dataclasses.dataclass(frozen=True)
class WantedPort:
    """One item of ``spec.networks``, resolved to the port that serves it."""

    origin: str
    name: str
    network: str = ""


class InvalidNetworkItem(ValueError):
    """An item of ``spec.networks`` sets both or neither of ``network`` and ``port``."""

    reason = "InvalidSpec"


def ref_of(body: kopf.Body) -> ServerRef:
    return ServerRef(
        namespace=str(body.metadata.namespace),
        name=str(body.metadata.name),
        uid=str(body.metadata.uid),
    )


def wanted_ports(
    server: ServerRef,
    networks: list[dict[str, Any]],
    existing: Sequence[PortRecord] = (),
) -> list[WantedPort]:
    """Resolve ``spec.networks`` into the ports the server should have, in order.

    The k-th item on a network maps to the k-th created port on it in ``existing`` (the
    server's records), so a port keeps its name even when it was made for an earlier uid
    (a restored server), and gets a name derived from the server otherwise.
    """
    made: dict[str, list[str]] = collections.defaultdict(list)
    for record in existing:
        if record.created:
            made[record.network].append(record.name)

    occurrences: collections.Counter[str] = collections.Counter()
    wanted: list[WantedPort] = []
    for index, item in enumerate(networks):
        network = item.get("network")
        port = item.get("port")
        if bool(network) == bool(port):
            raise InvalidNetworkItem(
                f"Invalid spec.networks[{index}] {item!r}: set exactly one of network (a port "
                f"is created on it) or port (an existing port is attached)."
            )
        if network:
            occurrences[network] += 1
            known = made.get(network, [])
            if occurrences[network] <= len(known):
                name = known[occurrences[network] - 1]
            else:
                name = created_port_name(server, network=network, occurrence=occurrences[network])
            wanted.append(WantedPort(constants.ORIGIN_CREATED, name=name, network=network))
        else:
            wanted.append(WantedPort(constants.ORIGIN_ATTACHED, name=str(port)))
    return wanted


async def reconcile(*, body: kopf.Body, runtime: Runtime, logger: kopf.Logger) -> None:
    """Create or attach the wanted ports, release the others, spawn, and record the status.

    A Server that a restore made (it carries the ``restored-from`` annotation) first
    takes over the ports of its DeletedServer, then finishes the restore.
    """
    server = ref_of(body)
    source, previous = _restore_source(body=body, runtime=runtime)
    adopt_from = str(source["spec"]["originalUID"]) if source is not None else ""
    restored_from = str(source["metadata"]["name"]) if source is not None else ""

    # A spec the schema should have refused still gets a clear ERROR, never a guess.
    try:
        wanted = wanted_ports(server, list(body.spec.get("networks", [])), previous)
    except InvalidNetworkItem as error:
        await _write_status(
            body=body,
            runtime=runtime,
            state=constants.STATUS_ERROR,
            ports=previous,
            ready=(False, error.reason, str(error)),
        )
        logger.warning(str(error))
        return

    # Ports first, as Nova allocates the network before it spawns the guest.
    ports, problem = await _provide_ports(
        server=server, wanted=wanted, previous=previous, adopt_from=adopt_from, runtime=runtime
    )

    # Ports that the spec no longer lists are released as a deletion would release them.
    kept = {record.name for record in ports}
    if source is None:
        for record in previous:
            if record.name not in kept:
                await _release(server=server, port=record, runtime=runtime)

    if problem is not None:
        await _report_problem(
            body=body,
            runtime=runtime,
            ports=ports,
            problem=problem,
            logger=logger,
            restored_from=restored_from,
        )
        if source is not None:
            await restoring.finish(server=body, deleted=source, runtime=runtime, logger=logger)

        # The port side wakes this server up when the port it waits for becomes free.
        raise kopf.TemporaryError(str(problem), delay=storages.UNTIL_NEXT_EVENT)

    instance = await runtime.compute.spawn(
        server,
        flavor=str(body.spec.get("flavor")),
        image=str(body.spec.get("image")),
        restored_from=adopt_from,
    )
    building = instance.state is PowerState.BUILDING
    await _write_status(
        body=body,
        runtime=runtime,
        state=constants.STATUS_BUILD if building else constants.STATUS_ACTIVE,
        ports=ports,
        ready=(
            (False, constants.REASON_BUILDING, f"Server {server} is booting.")
            if building
            else (True, constants.REASON_ACTIVE, f"Server {server} is running.")
        ),
        restored_from=restored_from,
    )
    if source is not None:
        await restoring.finish(server=body, deleted=source, runtime=runtime, logger=logger)


async def check_build(*, body: kopf.Body, runtime: Runtime, logger: kopf.Logger) -> None:
    """Move a BUILD server to ACTIVE once its instance runs; called periodically."""
    server = ref_of(body)
    instance = await runtime.compute.spawn(
        server, flavor=str(body.spec.get("flavor")), image=str(body.spec.get("image"))
    )
    if instance.state is not PowerState.RUNNING:
        return

    ports = [PortRecord.from_status(entry) for entry in body.status.get("ports", [])]
    await _write_status(
        body=body,
        runtime=runtime,
        state=constants.STATUS_ACTIVE,
        ports=ports,
        ready=(True, constants.REASON_ACTIVE, f"Server {server} is running."),
    )
    logger.info(f"Server {server} is ACTIVE.")


def _restore_source(
    *, body: kopf.Body, runtime: Runtime
) -> tuple[dict[str, Any] | None, list[PortRecord]]:
    """Return the DeletedServer a restore is taking the ports from, if one is under way,
    and the ports the server had: its own records, or the DeletedServer's."""
    previous = [PortRecord.from_status(entry) for entry in body.status.get("ports", [])]
    source = restoring.source_of(server=body, runtime=runtime)
    if source is not None and not previous:
        previous = [PortRecord.from_status(entry) for entry in source["spec"].get("ports", [])]
    return source, previous


async def _report_problem(
    *,
    body: kopf.Body,
    runtime: Runtime,
    ports: list[PortRecord],
    problem: PortError,
    logger: kopf.Logger,
    restored_from: str = "",
) -> None:
    """Put the server in ERROR for a port problem; post one Warning when it starts."""
    already_reported = _ready_reason(dict(body.status)) == problem.reason
    await _write_status(
        body=body,
        runtime=runtime,
        state=constants.STATUS_ERROR,
        ports=ports,
        ready=(False, problem.reason, str(problem)),
        restored_from=restored_from,
    )
    if not already_reported:
        kopf.warn(body, reason=problem.reason, message=str(problem))
        logger.warning(f"Server {ref_of(body)} is in ERROR: {problem}")


async def _provide_ports(
    *,
    server: ServerRef,
    wanted: list[WantedPort],
    previous: list[PortRecord],
    adopt_from: str,
    runtime: Runtime,
) -> tuple[list[PortRecord], PortError | None]:
    """Create or attach every wanted port; return those in place and the first problem.

    A created port that someone deleted is made again with the MAC address recorded for it.
    """
    recorded = {port.name: port.mac_address for port in previous if port.created}
    ports: list[PortRecord] = []
    problem: PortError | None = None
    for item in wanted:
        try:
            if item.origin == constants.ORIGIN_CREATED:
                record = await runtime.network.create_port(
                    server,
                    name=item.name,
                    network=item.network,
                    adopt_from=adopt_from,
                    mac_address=recorded.get(item.name, ""),
                )
            else:
                record = await runtime.network.attach_port(
                    server, name=item.name, adopt_from=adopt_from
                )
        except PortError as error:
            problem = problem or error
            continue
        ports.append(record)
    return ports, problem


async def _release(*, server: ServerRef, port: PortRecord, runtime: Runtime) -> None:
    if port.created:
        await runtime.network.delete_port(server, port)
    else:
        await runtime.network.detach_port(server, port)


async def _write_status(
    *,
    body: kopf.Body,
    runtime: Runtime,
    state: str,
    ports: list[PortRecord],
    ready: tuple[bool, str, str],
    restored_from: str = "",
) -> None:
    """Write the status when it differs. ``restored_from`` names the DeletedServer whose
    ports a restore has just taken over: its purge reads that field and frees nothing."""
    current: dict[str, Any] = dict(body.status)
    generation = body.metadata.get("generation")
    ready_status, ready_reason, ready_message = ready

    listed = list(current.get("conditions", []))
    listed = conditions.with_condition(
        listed,
        kind=constants.CONDITION_READY,
        status=ready_status,
        reason=ready_reason,
        message=ready_message,
        generation=generation,
    )
    if conditions.find(listed, constants.CONDITION_DELETION_BLOCKED) is None:
        listed = conditions.with_condition(
            listed,
            kind=constants.CONDITION_DELETION_BLOCKED,
            status=False,
            reason=constants.REASON_NOT_BLOCKED,
            message="Nothing holds a deletion of this server.",
            generation=generation,
        )

    wanted = {
        "status": state,
        "taskState": "",
        "observedGeneration": generation,
        "ports": [record.to_status() for record in ports],
        "portCount": len(ports),
        "conditions": listed,
    }
    if restored_from:
        wanted["restoredFrom"] = restored_from
    if all(current.get(key) == value for key, value in wanted.items()):
        return

    server = ref_of(body)
    await runtime.servers.patch(
        namespace=server.namespace, name=server.name, patch={"status": wanted}, status=True
    )


def _ready_reason(status: dict[str, Any]) -> str:
    condition = conditions.find(list(status.get("conditions", [])), constants.CONDITION_READY)
    return str(condition.get("reason", "")) if condition else ""
