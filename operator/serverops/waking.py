"""Waking up servers that wait for a port to exist or to be released.

A server whose attached port is missing or bound elsewhere is in ERROR and its handler
waits for the next event on the server. When the port becomes free (created and DOWN,
or detached from its holder), the port's watch event finds the waiting servers in an
index and writes the retry annotation on each: one write per waiting server, and only
then, instead of a periodic retry on every server in ERROR.
"""

import dataclasses
import datetime
import logging

import kopf

from serverops import conditions, constants, kubeapi
from serverops.lookups import ObjectIndex

logger = logging.getLogger(__name__)

WAITING_REASONS = frozenset(
    {constants.REASON_PORT_NOT_FOUND, constants.REASON_PORT_IN_USE, constants.REASON_MAC_IN_USE}
)


@dataclasses.dataclass(frozen=True)
class WaitingServer:
    namespace: str
    name: str


ServersByPort = ObjectIndex[tuple[str, str], WaitingServer]


def waiting_keys(body: kopf.Body) -> dict[tuple[str, str], WaitingServer]:
    """Index a server in ERROR for a port under each port it attaches."""
    if body.metadata.get("deletionTimestamp"):
        return {}
    listed = list(body.status.get("conditions", []))
    ready = conditions.find(listed, constants.CONDITION_READY)
    if ready is None or ready.get("reason") not in WAITING_REASONS:
        return {}

    namespace = str(body.metadata.namespace)
    server = WaitingServer(namespace=namespace, name=str(body.metadata.name))
    keys: dict[tuple[str, str], WaitingServer] = {}
    for item in body.spec.get("networks", []):
        port = item.get("port")
        if port:
            keys[(namespace, str(port))] = server
    return keys


async def wake_servers_waiting_for(
    port: kopf.Body, *, waiting: ServersByPort, servers: kubeapi.CustomObjects
) -> None:
    """If ``port`` is free to attach, poke every server that waits for it."""
    status = port.status
    if status.get("server") or status.get("status") != constants.PORT_DOWN:
        return

    namespace = str(port.metadata.namespace)
    now = datetime.datetime.now(datetime.UTC).isoformat()
    for server in list(waiting.get((namespace, str(port.metadata.name)), [])):
        patch = {"metadata": {"annotations": {constants.ANNOTATION_RETRY: now}}}
        try:
            await servers.patch(namespace=server.namespace, name=server.name, patch=patch)
        except kubeapi.NotFound:
            continue
        logger.info(
            f"Port {namespace}/{port.metadata.name} is free; woke server "
            f"{server.namespace}/{server.name} up to attach it."
        )
