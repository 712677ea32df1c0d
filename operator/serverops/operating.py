"""Running the operator: kopf's settings for serverops, and the coroutine the CLI runs."""

import asyncio
import logging
import socket
from collections.abc import Collection

import kopf

from serverops import constants
from serverops.config import OperatorConfig
from serverops.storages import MemoryDiffBaseStorage, MemoryProgressStorage


def build_settings() -> kopf.OperatorSettings:
    """Return kopf's settings as serverops needs them."""
    settings = kopf.OperatorSettings()

    # Our own finalizer name, and handler bookkeeping in memory: see serverops.storages.
    settings.persistence.finalizer = constants.FINALIZER
    settings.persistence.progress_storage = MemoryProgressStorage()
    settings.persistence.diffbase_storage = MemoryDiffBaseStorage()

    # Explicit Events (a held deletion, a port conflict) are posted; log lines are not,
    # since each would cost an API write.
    settings.posting.enabled = True
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "serverops"
    settings.posting.reporting_instance = socket.gethostname()
    settings.posting.event_name_prefix = "serverops-"
    return settings


async def run_operator(
    *,
    config: OperatorConfig,
    clusterwide: bool,
    namespaces: Collection[str],
    standalone: bool,
    peering_name: str | None,
    priority: int,
    liveness_endpoint: str | None,
    stop_flag: asyncio.Event | None = None,
) -> None:
    """Run the operator until it is stopped by a signal or ``stop_flag``."""
    # Registering the handlers is a side effect of importing them.
    from serverops import handlers

    memo = kopf.Memo()
    memo[handlers.CONFIG_KEY] = config
    await kopf.operator(
        lifecycle=kopf.lifecycles.one_by_one,
        settings=build_settings(),
        clusterwide=clusterwide,
        namespaces=namespaces,
        standalone=standalone,
        peering_name=peering_name,
        priority=priority,
        liveness_endpoint=liveness_endpoint,
        stop_flag=stop_flag,
        memo=memo,
    )
