"""Every kopf registration of the operator; each handler is a thin call into the module
that does the work (:mod:`building`, :mod:`deleting`, :mod:`portstatus`).

Importing this module registers the handlers with kopf's default registry.
"""

import contextlib
import datetime
from collections.abc import Iterator
from typing import Any

import kopf

from serverops import (
    admission,
    approvals,
    building,
    constants,
    deleting,
    kubeapi,
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
    )
    logger.info(f"serverops is starting with {config}.")

    tls: webhooks.TLSFiles | None = memo.get(TLS_KEY)
    if config.webhook_configure and tls is not None:
        host = config.webhook_host or config.webhook_address
        url = f"https://{host}:{config.webhook_port}"
        await webhooks.install(api_client, url=url, ca_pem=tls.ca_pem)


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    api_client = memo.get("serverops_api_client")
    if api_client is not None:
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


# In admission handlers, kopf's body is the new object, or the old one for a DELETE;
# the old object of an UPDATE comes as the keyword "old".
@kopf.on.mutate(*SERVERS, id="mutate-server", operations=["CREATE", "UPDATE"])
def mutate_server(
    body: kopf.Body, userinfo: kopf.UserInfo, patch: kopf.Patch, memo: kopf.Memo, **kwargs: Any
) -> None:
    admission.record_locker(
        new=body,
        old=kwargs.get("old"),
        userinfo=userinfo,
        admin_groups=_config(memo).admin_groups,
        patch=patch,
    )


@kopf.on.validate(*SERVERS, id="validate-server", operations=["CREATE", "UPDATE"])
def validate_server(
    body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    config = _config(memo)
    admission.check_server(
        new=body,
        old=kwargs.get("old"),
        userinfo=userinfo,
        admin_groups=config.admin_groups,
        holder_of=runtime.of(memo).network.holder_by_name,
        approval_key=config.approval_key,
    )


@kopf.on.validate(
    *SERVERS,
    id="validate-server-delete",
    operations=["DELETE"],
    side_effects=True,
    ignore_failures=True,
)
async def validate_server_delete(
    body: kopf.Body, userinfo: kopf.UserInfo, dryrun: bool, memo: kopf.Memo, **_: Any
) -> None:
    config = _config(memo)
    needs_approval = admission.check_server_deletion(
        old=body, userinfo=userinfo, admin_groups=config.admin_groups
    )
    if needs_approval and not dryrun:
        await _approve(body, userinfo=userinfo, api=runtime.of(memo).servers, config=config)


@kopf.on.validate(*DELETED_SERVERS, id="validate-deletedserver", operations=["UPDATE"])
def validate_deleted_server(
    body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    admission.check_deleted_server(
        new=body, old=kwargs.get("old"), userinfo=userinfo, admin_groups=_config(memo).admin_groups
    )


@kopf.on.validate(
    *DELETED_SERVERS,
    id="validate-deletedserver-delete",
    operations=["DELETE"],
    side_effects=True,
    ignore_failures=True,
)
async def validate_deleted_server_delete(
    body: kopf.Body, userinfo: kopf.UserInfo, dryrun: bool, memo: kopf.Memo, **_: Any
) -> None:
    config = _config(memo)
    shared = runtime.of(memo)
    needs_approval = admission.check_deleted_server_deletion(
        old=body, userinfo=userinfo, admin_groups=config.admin_groups, now=shared.clock()
    )
    if needs_approval and not dryrun:
        await _approve(body, userinfo=userinfo, api=shared.deleted_servers, config=config)


@kopf.on.validate(*PORTS, id="validate-port", operations=["CREATE", "UPDATE"])
def validate_port(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    network = runtime.of(memo).network

    def mac_holder(network_name: str, mac: str, uid: str) -> str:
        return network.mac_in_use(network=network_name, mac=mac, by_other_than=uid)

    admission.check_port(new=body, mac_holder=mac_holder)


async def _approve(
    body: kopf.Body, *, userinfo: kopf.UserInfo, api: kubeapi.CustomObjects, config: OperatorConfig
) -> None:
    """Record an administrator's approval on the object, for the finalizer to find.

    The API server may run admission for a deletion more than once, the last time on the
    object as it is when the deletion is stored. A recent approval by the same user is
    therefore kept as it is: a new one would change the object and start the round over.
    """
    now = datetime.datetime.now(datetime.UTC)
    existing = approvals.decode(
        str(body.metadata.annotations.get(approvals.ANNOTATION, "")), config.approval_key
    )
    if (
        existing is not None
        and existing.uid == str(body.metadata.uid)
        and existing.user == str(userinfo.get("username", ""))
        and approvals.approves(existing, uid=existing.uid, deleted_at=now)
    ):
        return

    approval = approvals.Approval(
        user=str(userinfo.get("username", "")),
        uid=str(body.metadata.uid),
        at=now,
    )
    patch = {
        "metadata": {"annotations": {approvals.ANNOTATION: approval.encode(config.approval_key)}}
    }
    try:
        await api.patch(
            namespace=str(body.metadata.namespace), name=str(body.metadata.name), patch=patch
        )
    except kubeapi.APIError as error:
        raise kopf.AdmissionError(
            f"Failed to record the approval to delete locked {body.get('kind')} "
            f"{body.metadata.namespace}/{body.metadata.name}: {error}; try again.",
            code=500,
        ) from error


def _config(memo: kopf.Memo) -> OperatorConfig:
    config: OperatorConfig = memo[CONFIG_KEY]
    return config


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
