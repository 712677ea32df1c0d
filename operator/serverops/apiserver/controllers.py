"""
The base of the built-in controllers (CRDs, garbage collection, namespaces).

Like kube-controller-manager's controllers, each one reacts to committed changes
asynchronously: a store listener queues keys, and one task processes them in order,
deduplicating keys that are already queued. Controllers write through the registry,
so their writes are validated, versioned and watched like any client's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable

from serverops.apiserver import admission, store

logger = logging.getLogger(__name__)


class Controller:
    """A work queue of keys and the task that processes them."""

    name = "controller"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Hashable] = asyncio.Queue()
        self.pending: set[Hashable] = set()
        self.task: asyncio.Task[None] | None = None
        self.context = admission.RequestContext(user_agent=f"serverops-apiserver/{self.name}")

    def observe(self, change: store.Change) -> None:
        """Queue the keys a committed change concerns; called for every change."""

    def enqueue(self, key: Hashable) -> None:
        if key not in self.pending:
            self.pending.add(key)
            self.queue.put_nowait(key)

    def process(self, key: Hashable) -> None:
        """Bring one key to its desired state."""

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"apiserver-{self.name}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    async def _run(self) -> None:
        while True:
            key = await self.queue.get()
            self.pending.discard(key)
            try:
                self.process(key)
            except Exception:
                logger.exception(f"The {self.name} controller failed to process {key!r}.")
            # Yield after each key so that the clients' requests interleave with the work.
            await asyncio.sleep(0)

    @property
    def idle(self) -> bool:
        return not self.pending
