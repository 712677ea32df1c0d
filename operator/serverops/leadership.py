"""Leader election with a coordination.k8s.io Lease: one active replica among several.

kopf's own peering does not fit replicas of one Deployment: peers of equal priority all
pause (kopf 1.45, ``kopf/_core/engines/peering.py``). So serverops follows the Lease
protocol that client-go's leader election uses. A replica that is not the leader waits
and runs no handlers; the leader renews its Lease every :attr:`LeaseSettings.renew_every`
seconds, and if it cannot renew for :attr:`LeaseSettings.renew_deadline` seconds it
stops, so that another replica may take over once the Lease has run out. Every write is
a replace guarded by the resourceVersion it read, so two replicas never both win.

Times are measured on the local clock from when this replica last saw the Lease change,
not from ``renewTime``, so clock skew between machines does not shorten a Lease.
"""

import asyncio
import dataclasses
import datetime
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LeaseSettings:
    """Which Lease to hold, and how."""

    name: str
    namespace: str
    identity: str = dataclasses.field(
        default_factory=lambda: os.environ.get("POD_ID") or f"{socket.gethostname()}-{os.getpid()}"
    )
    duration: float = 15.0
    """Seconds a Lease is valid after its last renewal."""
    renew_every: float = 5.0
    """Seconds between the leader's renewals."""
    renew_deadline: float = 10.0
    """Seconds the leader keeps trying to renew before it gives up leadership."""
    retry_every: float = 2.0
    """Seconds between a standby replica's attempts to take the Lease."""


class Elector:
    """Takes and keeps one Lease for this process."""

    def __init__(self, api_client: client.ApiClient, settings: LeaseSettings) -> None:
        self._api = client.CoordinationV1Api(api_client)
        self._settings = settings
        self._observed: tuple[str, float] | None = None  # (resourceVersion, local time)

    async def acquire(self) -> None:
        """Return once this process holds the Lease."""
        settings = self._settings
        logger.info(
            f"Waiting to lead: Lease {settings.namespace}/{settings.name} as {settings.identity}."
        )
        while True:
            try:
                if await self._try():
                    break
            except (ApiException, OSError) as error:
                # A missing RBAC rule or an unreachable API server: say so, and keep trying.
                reason = getattr(error, "reason", None) or error
                logger.error(
                    f"Failed to take Lease {settings.namespace}/{settings.name}: {reason}; "
                    f"retrying in {settings.retry_every:g}s."
                )
            await asyncio.sleep(settings.retry_every)
        logger.info(f"Leading: holding Lease {settings.namespace}/{settings.name}.")

    async def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew the Lease until it cannot be renewed in time; then call ``on_lost``."""
        settings = self._settings
        last_renewal = time.monotonic()
        while True:
            await asyncio.sleep(settings.renew_every)
            try:
                renewed = await self._try()
            except (ApiException, OSError) as error:
                logger.warning(f"Failed to renew Lease {settings.name}: {error}")
                renewed = False
            if renewed:
                last_renewal = time.monotonic()
            elif time.monotonic() - last_renewal > settings.renew_deadline:
                logger.error(
                    f"Lost Lease {settings.namespace}/{settings.name}: not renewed for "
                    f"{settings.renew_deadline:g}s; stopping so that another replica leads."
                )
                on_lost()
                return

    async def _try(self) -> bool:
        settings = self._settings
        now = datetime.datetime.now(datetime.UTC)
        try:
            lease = await self._api.read_namespaced_lease(settings.name, settings.namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            return await self._create(now)

        spec = lease.spec
        version = str(lease.metadata.resource_version)
        if self._observed is None or self._observed[0] != version:
            self._observed = (version, time.monotonic())
        holder = spec.holder_identity if spec else None
        duration = float((spec.lease_duration_seconds if spec else None) or settings.duration)
        expired = time.monotonic() - self._observed[1] > duration
        if holder and holder != settings.identity and not expired:
            return False

        transitions = int((spec.lease_transitions if spec else None) or 0)
        if holder != settings.identity:
            transitions += 1
            acquired = now
        else:
            acquired = (spec.acquire_time if spec else None) or now
        lease.spec = client.V1LeaseSpec(
            holder_identity=settings.identity,
            lease_duration_seconds=int(settings.duration),
            acquire_time=acquired,
            renew_time=now,
            lease_transitions=transitions,
        )
        try:
            await self._api.replace_namespaced_lease(settings.name, settings.namespace, lease)
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    async def _create(self, now: datetime.datetime) -> bool:
        settings = self._settings
        body: Any = client.V1Lease(
            metadata=client.V1ObjectMeta(name=settings.name, namespace=settings.namespace),
            spec=client.V1LeaseSpec(
                holder_identity=settings.identity,
                lease_duration_seconds=int(settings.duration),
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            ),
        )
        try:
            await self._api.create_namespaced_lease(settings.namespace, body)
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True
