"""The network side: a server's ports, behind a small interface.

Nova tells two kinds of ports apart, and so does this interface. A *created* port is
made by the operator for one server and deleted together with it. An *attached* port is
the user's own; it is bound while the server lives, then only unbound and kept (Nova's
``preserve_on_delete``).
"""

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any, Protocol

from serverops import constants
from serverops.compute import ServerRef


@dataclasses.dataclass(frozen=True)
class PortRecord:
    """One port bound to a server, as the server's ``status.ports`` lists it."""

    name: str
    origin: str
    uid: str = ""
    network: str = ""
    mac_address: str = ""

    @property
    def created(self) -> bool:
        return self.origin == constants.ORIGIN_CREATED

    def to_status(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "origin": self.origin}
        if self.uid:
            entry["uid"] = self.uid
        if self.network:
            entry["network"] = self.network
        if self.mac_address:
            entry["macAddress"] = self.mac_address
        return entry

    @classmethod
    def from_status(cls, entry: dict[str, Any]) -> "PortRecord":
        return cls(
            name=str(entry.get("name", "")),
            origin=str(entry.get("origin", constants.ORIGIN_ATTACHED)),
            uid=str(entry.get("uid", "")),
            network=str(entry.get("network", "")),
            mac_address=str(entry.get("macAddress", "")),
        )


class Outcome(enum.Enum):
    """What freeing one port did."""

    FREED = "freed"
    """Deleted (and gone) or detached by this call, or found so already."""
    NOT_OURS = "not ours"
    """Left alone: the port is another server's, or was never this server's."""
    WAITING = "waiting"
    """Deleted, but another controller's finalizer still holds it."""


def freed_summary(outcomes: Iterable[tuple[PortRecord, Outcome]]) -> str:
    """Say how many created ports were deleted, attached ones detached, and others left."""
    listed = list(outcomes)
    created = sum(1 for port, outcome in listed if port.created and outcome is Outcome.FREED)
    attached = sum(1 for port, outcome in listed if not port.created and outcome is Outcome.FREED)
    left = sum(1 for _, outcome in listed if outcome is Outcome.NOT_OURS)
    summary = (
        f"{created} created {'port' if created == 1 else 'ports'} deleted, "
        f"{attached} attached {'port' if attached == 1 else 'ports'} detached"
    )
    if left:
        summary += f", {left} not its own left alone"
    return summary


class PortError(Exception):
    """A port cannot be used by the server; ``reason`` is the condition reason to show."""

    reason = "PortError"

    def __init__(self, message: str, *, port: str) -> None:
        super().__init__(message)
        self.port = port


class PortNotFound(PortError):
    """The attached port does not exist in the server's namespace."""

    reason = constants.REASON_PORT_NOT_FOUND


class PortInUse(PortError):
    """The port is bound to another server, named in the message."""

    reason = constants.REASON_PORT_IN_USE


class PortNameTaken(PortError):
    """The name the operator picked for a created port belongs to an unrelated object."""

    reason = constants.REASON_PORT_NAME_TAKEN


class PortUnusable(PortError):
    """The port is in ERROR, for example because its MAC address is taken."""

    reason = constants.REASON_MAC_IN_USE


class Network(Protocol):
    """Creates, binds, deletes and detaches ports. Every call is idempotent."""

    async def create_port(
        self,
        server: ServerRef,
        *,
        name: str,
        network: str,
        adopt_from: str = "",
        mac_address: str = "",
    ) -> PortRecord:
        """Create the port ``name`` on ``network`` for the server, or adopt it if it exists.

        ``adopt_from`` is the uid of a soft-deleted server whose ports this one takes over
        on a restore; its bindings count as this server's own. ``mac_address`` is the
        address the port had before, which a port made again keeps unless another port
        on the network has taken it.
        """
        ...

    async def attach_port(
        self, server: ServerRef, *, name: str, adopt_from: str = ""
    ) -> PortRecord:
        """Bind the user's port ``name`` to the server; raise a :class:`PortError` if unusable."""
        ...

    async def delete_port(self, server: ServerRef, port: PortRecord) -> Outcome:
        """Delete a port created for the server, and say whether it is confirmed gone."""
        ...

    async def detach_port(self, server: ServerRef, port: PortRecord) -> Outcome:
        """Unbind an attached port from the server, leaving it ``DOWN`` and kept."""
        ...

    def known_ports(self, server: ServerRef) -> Iterable[PortRecord]:
        """List the ports the network knows as created for or bound to the server."""
        ...

    def holder_of(self, server: ServerRef, port: PortRecord) -> str | None:
        """Return the uid of the server the port is bound to ('' when unbound), or None if
        the network does not know the port."""
        ...

    async def find_created_port(self, server: ServerRef, *, name: str) -> PortRecord | None:
        """Look up a created port by name, for one the server's records may have missed."""
        ...
