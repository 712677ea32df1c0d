"""Every kopf registration of the operator; each handler is a thin call into the module
that does the work (:mod:`building`, :mod:`deleting`, :mod:`portstatus`).

Importing this module registers the handlers with kopf's default registry.
"""

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import kopf

from serverops import (
    building,
    constants,
    deleting,
    kubeapi,
    lookups,
    metrics,
    ports,
    portstatus,
    purging,
    restoring,
    runtime,
    tables,
    waking,
    webhooks,
)
from serverops.compute import LocalCompute
from serverops.config import OperatorConfig
from serverops.storages import MemoryDiffBaseStorage, MemoryProgressStorage

SERVERS = (constants.GROUP, constants.VERSION, constants.SERVERS)
PORTS = (constants.GROUP, constants.VERSION, constants.PORTS)
DELETED_SERVERS = (constants.GROUP, constants.VERSION, constants.DELETED_SERVERS)

CONFIG_KEY = "serverops_config"
NAMESPACES_KEY = "serverops_namespaces"
TLS_KEY = "serverops_webhook_tls"
READY_KEY = "serverops_ready"


@kopf.on.startup()
async def start(
    *,
    memo: kopf.Memo,
    settings: kopf.OperatorSettings,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    config: OperatorConfig = memo[CONFIG_KEY]
    progress = settings.persistence.progress_storage
    diffbase = settings.persistence.diffbase_storage
    if not isinstance(progress, MemoryProgressStorage) or not isinstance(
        diffbase, MemoryDiffBaseStorage
    ):
        raise kopf.PermanentError("Run serverops through its CLI, which sets kopf's storages.")

    api_client = await kubeapi.connect()
    memo["serverops_api_client"] = api_client

    # The tables are complete before kopf runs any handler: see serverops.lookups.
    known = tables.Tables()
    kinds = known.kinds()
    await lookups.prefill(api_client, kinds.values(), namespaces=memo.get(NAMESPACES_KEY, ()))

    port_objects = kubeapi.CustomObjects(api_client, plural=constants.PORTS)
    memo[runtime.MEMO_KEY] = runtime.Runtime(
        config=config,
        servers=kubeapi.CustomObjects(api_client, plural=constants.SERVERS),
        ports=port_objects,
        deleted_servers=kubeapi.CustomObjects(api_client, plural=constants.DELETED_SERVERS),
        compute=LocalCompute(boot_seconds=config.local_boot_seconds),
        network=ports.KubernetesPorts(
            port_objects,
            by_server=known.ports_by_server,
            by_mac=known.ports_by_mac,
            by_name=known.ports_by_name,
        ),
        progress=progress,
        diffbase=diffbase,
        tables=known,
        kinds=kinds,
        live_servers=known.live_server,
    )
    logger.info(f"serverops is starting with {config}.")

    if config.metrics_port:
        metrics.serve(
            address=config.metrics_address,
            port=config.metrics_port,
            servers_by_status=lambda: known.counts(known.servers_by_status),
            blocked_by_reason=lambda: known.counts(known.blocked),
        )

    tls: webhooks.TLSFiles | None = memo.get(TLS_KEY)
    if config.webhook_configure and tls is not None:
        host = config.webhook_host or config.webhook_address
        url = f"https://{host}:{config.webhook_port}"
        await webhooks.install(api_client, url=url, ca_pem=tls.ca_pem)

    ready: asyncio.Event | None = memo.get(READY_KEY)
    if ready is not None:
        ready.set()


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    api_client = memo.get("serverops_api_client")
    if api_client is None:
        return

    # Configurations this process installed would make every write of a Server fail
    # once it is gone (failurePolicy Fail), so a clean stop removes them.
    config: OperatorConfig = memo[CONFIG_KEY]
    if config.webhook_configure:
        try:
            await webhooks.uninstall(api_client)
        except Exception as error:  # noqa: BLE001 - a failed cleanup must not hide the stop
            logger.error(f"Failed to remove the webhook configurations: {error}")
    await api_client.close()


@kopf.on.create(*SERVERS, id="reconcile")
@kopf.on.update(*SERVERS, id="reconcile", field="spec")
async def reconcile_server(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    shared = runtime.of(memo)
    with _retrying(shared):
        await building.reconcile(body=body, runtime=shared, logger=logger)


@kopf.timer(
    *SERVERS,
    id="finish-build",
    interval=1.0,
    when=lambda status, **_: status.get("status") == constants.STATUS_BUILD,
)
async def finish_build(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    shared = runtime.of(memo)
    with _retrying(shared):
        await building.check_build(body=body, runtime=shared, logger=logger)


# Registration order is execution order: the operator runs kopf with the one-by-one
# lifecycle, so free-server runs only after begin-deletion has succeeded.
@kopf.on.delete(*SERVERS, id="begin-deletion")
async def begin_deletion(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    shared = runtime.of(memo)
    with _retrying(shared):
        await deleting.begin(body=body, patch=patch, runtime=shared, logger=logger)


@kopf.on.delete(*SERVERS, id="free-server")
async def free_server(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    shared = runtime.of(memo)
    with _retrying(shared):
        await deleting.free(body=body, runtime=shared, logger=logger)


@kopf.on.create(*DELETED_SERVERS, id="restore")
@kopf.on.update(*DELETED_SERVERS, id="restore")
async def reconcile_deleted_server(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    shared = runtime.of(memo)
    with _retrying(shared):
        await restoring.reconcile(body=body, runtime=shared, logger=logger)


@kopf.on.delete(*DELETED_SERVERS, id="purge")
async def purge(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    shared = runtime.of(memo)
    with _retrying(shared):
        await purging.purge(body=body, patch=patch, runtime=shared, logger=logger)


@kopf.daemon(*DELETED_SERVERS, id="reclaim", cancellation_timeout=5.0)
async def reclaim(
    body: kopf.Body, stopped: kopf.DaemonStopped, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    await purging.reclaim_when_due(
        body=body, stopped=stopped, runtime=runtime.of(memo), logger=logger
    )


@kopf.on.create(*PORTS, id="status")
@kopf.on.update(*PORTS, id="status", field="spec")
async def reconcile_port(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    shared = runtime.of(memo)
    with _retrying(shared):
        await portstatus.reconcile(body=body, runtime=shared, logger=logger)


# Watching handlers run before an object's other handlers in the same cycle, so every
# handler sees the tables with its own object's latest state.
@kopf.on.event(*PORTS)
async def port_event(type: str, body: kopf.Body, uid: str, memo: kopf.Memo, **_: Any) -> None:
    shared = runtime.of(memo)
    _feed(shared, constants.PORTS, type=type, body=body, uid=uid)
    if type != "DELETED":
        await waking.wake_servers_waiting_for(
            body, waiting=shared.tables.servers_waiting, servers=shared.servers
        )


@kopf.on.event(*SERVERS)
async def server_event(type: str, body: kopf.Body, uid: str, memo: kopf.Memo, **_: Any) -> None:
    _feed(runtime.of(memo), constants.SERVERS, type=type, body=body, uid=uid)


@kopf.on.event(*DELETED_SERVERS)
async def deleted_server_event(
    type: str, body: kopf.Body, uid: str, memo: kopf.Memo, **_: Any
) -> None:
    _feed(runtime.of(memo), constants.DELETED_SERVERS, type=type, body=body, uid=uid)


def _feed(shared: runtime.Runtime, plural: str, *, type: str, body: kopf.Body, uid: str) -> None:
    """Bring the tables up to date with one object, and forget a deleted one."""
    kind = shared.kinds[plural]
    if type == "DELETED":
        kind.remove(uid)
        shared.progress.forget(uid)
        shared.diffbase.forget(uid)
    else:
        kind.update(body)


@contextlib.contextmanager
def _retrying(shared: runtime.Runtime) -> Iterator[None]:
    """Turn a failed API call into a retry after the configured delay, not kopf's 60 s."""
    try:
        yield
    except kubeapi.APIError as error:
        raise kopf.TemporaryError(
            f"{error}; retrying in {shared.config.retry_delay:g}s.",
            delay=shared.config.retry_delay,
        ) from error
