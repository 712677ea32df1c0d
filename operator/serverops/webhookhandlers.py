"""The kopf registrations of the admission webhooks; each calls into :mod:`admission`.

Importing this module registers them. The operator imports it only when it serves the
webhooks (``--webhook-port``): kopf refuses to start with admission handlers and no
webhook server.
"""

import datetime
from typing import Any

import kopf

from serverops import admission, approvals, kubeapi, runtime
from serverops.config import OperatorConfig
from serverops.handlers import CONFIG_KEY, DELETED_SERVERS, PORTS, SERVERS


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
        record_of=runtime.of(memo).tables.deleted_server,
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


@kopf.on.validate(*DELETED_SERVERS, id="validate-deletedserver", operations=["CREATE", "UPDATE"])
def validate_deleted_server(
    body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    admission.check_deleted_server(
        new=body,
        old=kwargs.get("old"),
        userinfo=userinfo,
        admin_groups=_config(memo).admin_groups,
        live_server=runtime.of(memo).live_servers,
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
def validate_port(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    network = runtime.of(memo).network

    def mac_holder(network_name: str, mac: str, uid: str) -> str:
        return network.mac_in_use(network=network_name, mac=mac, by_other_than=uid)

    admission.check_port(new=body, old=kwargs.get("old"), mac_holder=mac_holder)


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
