"""Running the operator: kopf's settings for serverops, and the coroutine the CLI runs."""

import asyncio
import logging
import os
import pathlib
import socket
from collections.abc import Collection

import kopf

from serverops import constants, kubeapi, leadership, probing, webhooks
from serverops.config import OperatorConfig
from serverops.storages import MemoryDiffBaseStorage, MemoryProgressStorage


def build_settings(
    config: OperatorConfig, *, tls: webhooks.TLSFiles | None
) -> kopf.OperatorSettings:
    """Return kopf's settings as serverops needs them."""
    settings = kopf.OperatorSettings()

    # The webhook configurations come from the chart, or from --webhook-configure; kopf
    # does not manage them.
    if tls is not None:
        host = config.webhook_host or config.webhook_address
        settings.admission.server = webhooks.server(
            address=config.webhook_address, port=config.webhook_port, host=host, tls=tls
        )
        settings.admission.managed = None

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

    # A pod gets 60 s to stop by default; leave kopf time to finish within it.
    settings.process.ultimate_exiting_timeout = 50.0
    return settings


def webhook_tls(config: OperatorConfig) -> webhooks.TLSFiles | None:
    """Return the webhook's TLS files: the configured ones, or a generated set."""
    if not config.webhook_port:
        return None
    if config.webhook_cert_file:
        cert = pathlib.Path(config.webhook_cert_file)
        return webhooks.TLSFiles(
            certfile=cert,
            keyfile=pathlib.Path(config.webhook_key_file),
            ca_pem=cert.read_bytes(),
        )
    return webhooks.generate_tls(host=config.webhook_host or config.webhook_address)


async def run_operator(
    *,
    config: OperatorConfig,
    clusterwide: bool,
    namespaces: Collection[str],
    standalone: bool,
    peering_name: str | None,
    priority: int,
    liveness_endpoint: str | None,
    lease: leadership.LeaseSettings | None = None,
    stop_flag: asyncio.Event | None = None,
) -> None:
    """Run the operator until it is stopped by a signal or ``stop_flag``.

    With ``lease``, the process first waits until it leads, then runs kopf. If it loses
    the Lease, it exits at once, as client-go's leader election does: a replica that no
    longer leads must not write anything more, and its pod restarts as a standby.
    """
    # Registering the handlers is a side effect of importing them.
    from serverops import handlers

    if config.webhook_port:
        from serverops import webhookhandlers  # noqa: F401

    probes = probing.Probes()
    if liveness_endpoint:
        await probes.start(liveness_endpoint)

    keeper: asyncio.Task[None] | None = None
    if lease is not None:
        elector = leadership.Elector(await kubeapi.connect(), lease)
        await elector.acquire()
        keeper = asyncio.create_task(elector.keep(_exit_at_once))

    tls = webhook_tls(config)
    memo = kopf.Memo()
    memo[handlers.CONFIG_KEY] = config
    memo[handlers.TLS_KEY] = tls
    memo[handlers.READY_KEY] = probes.ready
    memo[handlers.NAMESPACES_KEY] = tuple(namespaces)
    try:
        await kopf.operator(
            lifecycle=kopf.lifecycles.one_by_one,
            settings=build_settings(config, tls=tls),
            clusterwide=clusterwide,
            namespaces=namespaces,
            standalone=standalone or lease is not None,
            peering_name=peering_name,
            priority=priority,
            stop_flag=stop_flag,
            memo=memo,
        )
    finally:
        if keeper is not None:
            keeper.cancel()
        await probes.stop()


def _exit_at_once() -> None:
    logging.shutdown()
    os._exit(1)
