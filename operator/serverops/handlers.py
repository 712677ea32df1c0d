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
    metrics,
    ports,
    portstatus,
    purging,
    restoring,
    runtime,
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
TLS_KEY = "serverops_webhook_tls"
READY_KEY = "serverops_ready"


@kopf.on.startup()
async def start(
    *,
    memo: kopf.Memo,
    settings: kopf.OperatorSettings,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    # kopf passes each index to every handler as a keyword named after its function.
    ports_by_server: ports.PortsByServer = kwargs["ports_by_server"]
    ports_by_mac: ports.PortsByMac = kwargs["ports_by_mac"]
    ports_by_name: ports.PortsByName = kwargs["ports_by_name"]
    servers_by_uid: kopf.Index[str, bool] = kwargs["servers_by_uid"]
    config: OperatorConfig = memo[CONFIG_KEY]
    progress = settings.persistence.progress_storage
    diffbase = settings.persistence.diffbase_storage
    if not isinstance(progress, MemoryProgressStorage) or not isinstance(
        diffbase, MemoryDiffBaseStorage
    ):
        raise kopf.PermanentError("Run serverops through its CLI, which sets kopf's storages.")

    api_client = await kubeapi.connect()
    port_objects = kubeapi.CustomObjects(api_client, plural=constants.PORTS)
    memo["serverops_api_client"] = api_client
    memo[runtime.MEMO_KEY] = runtime.Runtime(
        config=config,
        servers=kubeapi.CustomObjects(api_client, plural=constants.SERVERS),
        ports=port_objects,
        deleted_servers=kubeapi.CustomObjects(api_client, plural=constants.DELETED_SERVERS),
        compute=LocalCompute(boot_seconds=config.local_boot_seconds),
        network=ports.KubernetesPorts(
            port_objects, by_server=ports_by_server, by_mac=ports_by_mac, by_name=ports_by_name
        ),
        progress=progress,
        diffbase=diffbase,
        live_servers=lambda uid: not all(servers_by_uid.get(uid, [True])),
    )
    logger.info(f"serverops is starting with {config}.")

    if config.metrics_port:
        servers_by_status: kopf.Index[str, str] = kwargs["servers_by_status"]
        blocked: kopf.Index[str, str] = kwargs["blocked_deletions"]
        metrics.serve(
            address=config.metrics_address,
            port=config.metrics_port,
            servers_by_status=lambda: {key: len(store) for key, store in servers_by_status.items()},
            blocked_by_reason=lambda: {key: len(store) for key, store in blocked.items()},
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


@kopf.index(*PORTS)
def ports_by_server(body: kopf.Body, **_: Any) -> dict[str, ports.PortEntry]:
    return ports.server_keys(body)


@kopf.index(*PORTS)
def ports_by_name(body: kopf.Body, **_: Any) -> dict[tuple[str, str], ports.PortEntry]:
    return ports.name_keys(body)


@kopf.index(*PORTS)
def ports_by_mac(body: kopf.Body, **_: Any) -> dict[tuple[str, str], ports.PortEntry]:
    return ports.mac_keys(body)


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


@kopf.index(*SERVERS)
def servers_by_uid(uid: str, meta: kopf.Meta, **_: Any) -> dict[str, bool]:
    """Index each Server under its uid, with whether its deletion has begun."""
    return {uid: bool(meta.get("deletionTimestamp"))}


@kopf.index(*SERVERS)
def servers_by_status(body: kopf.Body, uid: str, **_: Any) -> dict[str, str]:
    return {str(body.status.get("status") or "UNKNOWN"): uid}


@kopf.index(*SERVERS)
@kopf.index(*DELETED_SERVERS)
def blocked_deletions(body: kopf.Body, uid: str, **_: Any) -> dict[str, str]:
    for condition in body.status.get("conditions", []):
        if condition.get("type") == constants.CONDITION_DELETION_BLOCKED:
            if condition.get("status") == "True":
                return {str(condition.get("reason", "")): uid}
    return {}


@kopf.index(*SERVERS)
def servers_waiting_for_ports(
    body: kopf.Body, **_: Any
) -> dict[tuple[str, str], waking.WaitingServer]:
    return waking.waiting_keys(body)


@kopf.on.event(*PORTS)
async def wake_servers(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    waiting: waking.ServersByPort = kwargs["servers_waiting_for_ports"]
    await waking.wake_servers_waiting_for(body, waiting=waiting, servers=runtime.of(memo).servers)


@kopf.on.event(*SERVERS)
@kopf.on.event(*PORTS)
@kopf.on.event(*DELETED_SERVERS)
def forget_deleted(type: str, uid: str, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        shared = runtime.of(memo)
        shared.progress.forget(uid)
        shared.diffbase.forget(uid)


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
