"""The compute side: what runs a server, behind a small interface.

A production driver would boot a KubeVirt VirtualMachine or an OpenStack server, so that
a hard delete also deletes it on the compute node. :class:`LocalCompute` only records the
servers it was asked to run, which is all the local API server can offer.
"""

import dataclasses
import enum
import time
from collections.abc import Callable
from typing import Protocol


class PowerState(enum.Enum):
    BUILDING = "building"
    RUNNING = "running"


@dataclasses.dataclass(frozen=True)
class ServerRef:
    """The identity of one Server object."""

    namespace: str
    name: str
    uid: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclasses.dataclass(frozen=True)
class Instance:
    """What the compute side reports about one server."""

    state: PowerState
    ready_in: float
    """Seconds until a BUILDING server is expected to run; 0 when it runs."""


class Compute(Protocol):
    """Runs servers. Every call is idempotent: repeating one is harmless."""

    async def spawn(
        self, server: ServerRef, *, flavor: str, image: str, restored_from: str = ""
    ) -> Instance:
        """Start the server if it is not known yet, and report its state.

        ``restored_from`` is the uid of the soft-deleted server this one restores: its
        stopped instance is taken over and started instead of a new one booted.
        """
        ...

    async def power_off(self, server: ServerRef) -> None:
        """Stop the server but keep it, as Nova does on a soft delete."""
        ...

    async def destroy(self, server: ServerRef) -> None:
        """Stop and forget the server; a server that is not known counts as destroyed."""
        ...


@dataclasses.dataclass
class _Record:
    flavor: str
    image: str
    started_at: float
    powered_on: bool = True


class LocalCompute:
    """Records servers in memory; each runs ``boot_seconds`` after its first spawn."""

    def __init__(self, *, boot_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._boot_seconds = boot_seconds
        self._clock = clock
        self._records: dict[str, _Record] = {}

    def __contains__(self, server: ServerRef) -> bool:
        return server.uid in self._records

    async def spawn(
        self, server: ServerRef, *, flavor: str, image: str, restored_from: str = ""
    ) -> Instance:
        previous = self._records.pop(restored_from, None) if restored_from else None
        if previous is not None:
            previous.powered_on = True
            self._records[server.uid] = previous
            return Instance(state=PowerState.RUNNING, ready_in=0.0)

        record = self._records.setdefault(
            server.uid, _Record(flavor=flavor, image=image, started_at=self._clock())
        )
        remaining = record.started_at + self._boot_seconds - self._clock()
        if remaining > 0:
            return Instance(state=PowerState.BUILDING, ready_in=remaining)
        return Instance(state=PowerState.RUNNING, ready_in=0.0)

    async def power_off(self, server: ServerRef) -> None:
        record = self._records.get(server.uid)
        if record is not None:
            record.powered_on = False

    async def destroy(self, server: ServerRef) -> None:
        self._records.pop(server.uid, None)
