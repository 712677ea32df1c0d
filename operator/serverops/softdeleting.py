"""Soft delete: a deleted Server becomes a DeletedServer, restorable until its reclaim time.

Kubernetes cannot undo a deletion, so a soft-deleted server does not linger in
Terminating. The operator records it in a ``DeletedServer`` (its name, uid, spec, labels,
annotations and ports) and then lets the Server go, so ``kubectl delete`` returns at once
and the name is free again. The ports stay as they were, still bound to the old uid,
until a restore takes them back or a purge frees them.
"""

import datetime
from typing import Any

import kopf

from serverops import approvals, constants, intervals, kubeapi
from serverops.building import ref_of
from serverops.compute import ServerRef
from serverops.network import PortRecord
from serverops.runtime import Runtime

_UID_DIGITS = 8
_MAX_NAME = 253


def deleted_server_name(server: ServerRef) -> str:
    """Name the DeletedServer of ``server``: its name plus the start of its uid, so that
    soft-deleting a second server of the same name never collides with the first."""
    suffix = f"-{server.uid[:_UID_DIGITS]}"
    return server.name[: _MAX_NAME - len(suffix)].rstrip("-.") + suffix


def reclaim_interval(body: kopf.Body, *, default: datetime.timedelta) -> datetime.timedelta:
    """Return the server's reclaim interval: its annotation, else the operator's default.

    Raises :class:`serverops.intervals.InvalidInterval` for an annotation that is not
    an interval, so that the caller holds the deletion instead of guessing.
    """
    text = body.metadata.annotations.get(constants.ANNOTATION_RECLAIM_INTERVAL)
    if text is None:
        return default
    return intervals.parse(str(text), source=f"annotation {constants.ANNOTATION_RECLAIM_INTERVAL}")


def reclaim_time(body: kopf.Body, interval: datetime.timedelta) -> str:
    """Return when the server is reclaimed: its deletionTimestamp plus the interval.

    Deriving it from the deletionTimestamp keeps it the same across restarts.
    """
    deleted_at = parse_time(str(body.metadata["deletionTimestamp"]))
    return format_time(deleted_at + interval)


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def record(
    *, body: kopf.Body, ports: list[PortRecord], runtime: Runtime, logger: kopf.Logger
) -> bool:
    """Record the server as a DeletedServer and power its instance off.

    Returns False when the namespace is being deleted, where nothing new can be created:
    the caller then hard-deletes the server, as Nova does when it cannot soft-delete.
    """
    server = ref_of(body)
    name = deleted_server_name(server)
    manifest = _manifest(body=body, name=name, ports=ports)
    try:
        await runtime.deleted_servers.create(namespace=server.namespace, body=manifest)
    except kubeapi.Forbidden as error:
        if error.namespace_terminating:
            logger.info(
                f"Namespace {server.namespace} is being deleted, so server {server} is "
                f"hard-deleted instead of soft-deleted."
            )
            return False
        raise
    except kubeapi.AlreadyExists:
        existing = await runtime.deleted_servers.get(namespace=server.namespace, name=name)
        if existing.get("spec", {}).get("originalUID") != server.uid:
            raise kopf.TemporaryError(
                f"DeletedServer {server.namespace}/{name} exists but records another server; "
                f"rename or delete it to let the soft delete of {server} finish.",
                delay=runtime.config.retry_delay,
            ) from None

    await runtime.compute.power_off(server)
    logger.info(
        f"Soft-deleted server {server} as DeletedServer {server.namespace}/{name}; it can be "
        f"restored until {manifest['spec']['reclaimAt']}."
    )
    return True


def _manifest(*, body: kopf.Body, name: str, ports: list[PortRecord]) -> dict[str, Any]:
    server = ref_of(body)
    return {
        "apiVersion": constants.API_VERSION,
        "kind": "DeletedServer",
        "metadata": {
            "name": name,
            "namespace": server.namespace,
            # The finalizer is there from the start, so a purge always runs first.
            "finalizers": [constants.FINALIZER],
            "labels": {
                constants.LABEL_SERVER_UID: server.uid,
                constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
            },
        },
        "spec": {
            "originalName": server.name,
            "originalUID": server.uid,
            "deletedAt": str(body.metadata["deletionTimestamp"]),
            "reclaimAt": str(body.status.get("reclaimAt")),
            "server": dict(body.spec),
            "labels": dict(body.metadata.labels),
            "annotations": {
                key: value
                for key, value in body.metadata.annotations.items()
                if key not in (constants.ANNOTATION_RETRY, approvals.ANNOTATION)
            },
            "ports": [port.to_status() for port in ports],
        },
    }
