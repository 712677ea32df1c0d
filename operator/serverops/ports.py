"""Ports as ``Port`` objects in the cluster: the network side the operator ships with.

The binding of a port to a server lives in the port's status (``status.server``), and a
created port also carries labels naming the server's uid. Neither uses an
ownerReference, so Kubernetes' garbage collector never deletes a port on its own; the
operator deletes or unbinds each port itself, before it releases the server.

The lookup tables (:mod:`serverops.tables`) are filled from the watch on ports, so lookups
cost no request.
"""

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any, cast

import kopf

from serverops import conditions, constants, kubeapi, macs
from serverops.compute import ServerRef
from serverops.lookups import ObjectIndex
from serverops.network import (
    Outcome,
    PortInUse,
    PortNameTaken,
    PortNotFound,
    PortRecord,
    PortUnusable,
)

logger = logging.getLogger(__name__)

# The first 8 hex digits of the server's uid keep a created port's name unique when a
# new server reuses the name of a deleted one whose ports still exist.
_UID_DIGITS = 8
_MAX_NAME = 253


@dataclasses.dataclass(frozen=True)
class PortEntry:
    """What the indexes keep of one port."""

    namespace: str
    name: str
    uid: str
    origin: str
    network: str
    mac_address: str
    holder: str = ""
    """The uid of the server the port is bound to; empty when unbound."""
    creator: str = ""
    """The uid of the server the operator created the port for; empty for a user's port."""
    resource_version: str = ""

    def to_record(self) -> PortRecord:
        return PortRecord(
            name=self.name,
            origin=self.origin,
            uid=self.uid,
            network=self.network,
            mac_address=self.mac_address,
        )


PortsByServer = ObjectIndex[str, PortEntry]
PortsByMac = ObjectIndex[tuple[str, str], PortEntry]
PortsByName = ObjectIndex[tuple[str, str], PortEntry]


def created_port_name(server: ServerRef, *, network: str, occurrence: int) -> str:
    """Name the port the operator creates for the ``occurrence``-th item on ``network``.

    The name depends only on the server and its spec, so a create that is repeated after
    a crash finds the port it made before instead of making a second one.
    """
    suffix = f"-{network}"
    if occurrence > 1:
        suffix += f"-{occurrence}"
    suffix += f"-{server.uid[:_UID_DIGITS]}"
    prefix = server.name[: _MAX_NAME - len(suffix)].rstrip("-.")
    return prefix + suffix


def entry_of(body: kopf.Body) -> PortEntry:
    labels = body.metadata.labels
    origin = labels.get(constants.LABEL_ORIGIN, constants.ORIGIN_ATTACHED)
    return PortEntry(
        namespace=str(body.metadata.namespace),
        name=str(body.metadata.name),
        uid=str(body.metadata.uid),
        origin=origin,
        network=str(body.spec.get("network", "")),
        mac_address=str(body.status.get("macAddress", "")),
        holder=str((body.status.get("server") or {}).get("uid", "")),
        creator=str(labels.get(constants.LABEL_SERVER_UID, "")),
        resource_version=str(body.metadata.get("resourceVersion", "")),
    )


def server_keys(body: kopf.Body) -> dict[str, PortEntry]:
    """Index a port under the uid of the server that created it and of the one it is bound to."""
    entry = entry_of(body)
    keys: dict[str, PortEntry] = {}
    creator = body.metadata.labels.get(constants.LABEL_SERVER_UID)
    if creator:
        keys[creator] = entry
    holder = (body.status.get("server") or {}).get("uid")
    if holder:
        keys[str(holder)] = entry
    return keys


def name_keys(body: kopf.Body) -> dict[tuple[str, str], PortEntry]:
    """Index a port under its namespace and name."""
    entry = entry_of(body)
    return {(entry.namespace, entry.name): entry}


def mac_keys(body: kopf.Body) -> dict[tuple[str, str], PortEntry]:
    """Index a port under the MAC address assigned to it, per network."""
    entry = entry_of(body)
    if not entry.mac_address:
        return {}
    return {(entry.network, macs.normalize(entry.mac_address)): entry}


class KubernetesPorts:
    """The :class:`serverops.network.Network` made of ``Port`` objects."""

    def __init__(
        self,
        api: kubeapi.CustomObjects,
        *,
        by_server: PortsByServer,
        by_mac: PortsByMac,
        by_name: PortsByName,
    ) -> None:
        self._api = api
        self._by_server = by_server
        self._by_mac = by_mac
        self._by_name = by_name

    def holder_by_name(self, namespace: str, name: str) -> str | None:
        """Return the uid of the server that holds the port, '' if unbound, None if unknown."""
        for entry in self._by_name.get((namespace, name), []):
            return entry.holder
        return None

    def mac_in_use(self, *, network: str, mac: str, by_other_than: str = "") -> str:
        """Return the name of a port other than ``by_other_than`` that has ``mac``, else ''."""
        for entry in self._by_mac.get((network, macs.normalize(mac)), []):
            if entry.uid != by_other_than:
                return f"{entry.namespace}/{entry.name}"
        return ""

    def known_ports(self, server: ServerRef) -> Iterable[PortRecord]:
        for entry in self._by_server.get(server.uid, []):
            if entry.namespace == server.namespace:
                yield entry.to_record()

    def holder_of(self, server: ServerRef, port: PortRecord) -> str | None:
        for entry in self._by_server.get(server.uid, []):
            if entry.namespace == server.namespace and entry.name == port.name:
                return entry.holder
        return None

    async def create_port(
        self,
        server: ServerRef,
        *,
        name: str,
        network: str,
        adopt_from: str = "",
        mac_address: str = "",
    ) -> PortRecord:
        known = await self._reuse(server, name=name, adopt_from=adopt_from)
        if known is not None:
            return known

        mac = macs.generate(in_use=lambda mac: bool(self.mac_in_use(network=network, mac=mac)))
        if mac_address:
            taken_by = self.mac_in_use(network=network, mac=mac_address)
            if not taken_by:
                mac = macs.normalize(mac_address)
            else:
                logger.warning(
                    f"Port {server.namespace}/{name} of server {server} was deleted, so it is "
                    f"made again with the new MAC address {mac}: port {taken_by} has taken its "
                    f"old address {mac_address} on {network}."
                )
        body = {
            "apiVersion": constants.API_VERSION,
            "kind": "Port",
            "metadata": {
                "name": name,
                "namespace": server.namespace,
                "labels": {
                    constants.LABEL_SERVER_UID: server.uid,
                    constants.LABEL_ORIGIN: constants.ORIGIN_CREATED,
                    constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
                },
            },
            "spec": {"network": network, "macAddress": mac},
        }
        try:
            port = await self._api.create(namespace=server.namespace, body=body)
            logger.info(f"Created port {server.namespace}/{name} on {network} for server {server}.")
        except kubeapi.AlreadyExists:
            port = await self._api.get(namespace=server.namespace, name=name)
            creator = _labels(port).get(constants.LABEL_SERVER_UID)
            holder = ((port.get("status") or {}).get("server") or {}).get("uid")
            owners = {server.uid, adopt_from} - {""}
            if creator not in owners and holder not in owners:
                raise PortNameTaken(
                    f"Port {server.namespace}/{name} exists but was not created for server "
                    f"{server}; delete or rename that port.",
                    port=name,
                ) from None

        mac_address = macs.normalize(port["spec"].get("macAddress", mac))
        await self._bind(server, port, mac_address=mac_address)
        return PortRecord(
            name=name,
            origin=constants.ORIGIN_CREATED,
            uid=port["metadata"]["uid"],
            network=network,
            mac_address=mac_address,
        )

    async def attach_port(
        self, server: ServerRef, *, name: str, adopt_from: str = ""
    ) -> PortRecord:
        known = await self._reuse(server, name=name, adopt_from=adopt_from)
        if known is not None:
            return known

        try:
            port = await self._api.get(namespace=server.namespace, name=name)
        except kubeapi.NotFound:
            raise PortNotFound(
                f"Port {server.namespace}/{name} does not exist; create it or remove it from "
                f"spec.networks.",
                port=name,
            ) from None

        status = port.get("status") or {}
        holder = status.get("server") or {}
        creator = _labels(port).get(constants.LABEL_SERVER_UID)
        owners = {server.uid, adopt_from} - {""}
        if holder and holder.get("uid") not in owners:
            raise PortInUse(
                f"Port {server.namespace}/{name} is bound to server "
                f"{server.namespace}/{holder.get('name')} (uid {holder.get('uid')}).",
                port=name,
            )
        if creator and creator not in owners:
            raise PortInUse(
                f"Port {server.namespace}/{name} was created for another server "
                f"(uid {creator}) and cannot be attached.",
                port=name,
            )
        if status.get("status") == constants.PORT_ERROR and not holder:
            raise PortUnusable(_error_message(port, name=f"{server.namespace}/{name}"), port=name)

        mac_address = self._mac_for(port)
        await self._bind(server, port, mac_address=mac_address)
        return PortRecord(
            name=name,
            origin=constants.ORIGIN_ATTACHED,
            uid=port["metadata"]["uid"],
            network=str(port["spec"].get("network", "")),
            mac_address=mac_address,
        )

    async def delete_port(self, server: ServerRef, port: PortRecord) -> Outcome:
        entry = await self._current(server.namespace, port.name)
        if entry is None or (port.uid and entry.uid != port.uid):
            # Gone, or the name belongs to a newer port: the one this server had is gone.
            return Outcome.FREED

        # Only a port made for this server, and bound to it or to nothing, is deleted. A
        # record that lists someone else's port (a hand-made DeletedServer, say) frees
        # nothing of theirs.
        owned = entry.origin == constants.ORIGIN_CREATED and (
            entry.holder == server.uid or (not entry.holder and entry.creator == server.uid)
        )
        if not owned:
            logger.warning(
                f"Left port {server.namespace}/{port.name} alone: it is not a port created for "
                f"server {server} (created for {entry.creator or 'nobody'}, bound to "
                f"{entry.holder or 'nothing'})."
            )
            return Outcome.NOT_OURS

        # The resourceVersion precondition fails if the port changed since the watch saw
        # it (a restore binding it elsewhere, say); the step is then retried on news.
        try:
            answer = await self._api.delete(
                namespace=server.namespace,
                name=port.name,
                uid=entry.uid,
                resource_version=entry.resource_version or None,
            )
        except kubeapi.NotFound:
            return Outcome.FREED

        if kubeapi.is_gone(answer):
            logger.info(f"Deleted port {server.namespace}/{port.name} of server {server}.")
            return Outcome.FREED
        finalizers = answer.get("metadata", {}).get("finalizers", [])
        logger.info(
            f"Port {server.namespace}/{port.name} of server {server} is deleted but held by "
            f"finalizers {finalizers}; waiting for it to go."
        )
        return Outcome.WAITING

    async def _current(self, namespace: str, name: str) -> PortEntry | None:
        """Return what the watch knows of a port, or read it when the watch has not seen it."""
        for entry in self._by_name.get((namespace, name), []):
            return entry
        try:
            body = await self._api.get(namespace=namespace, name=name)
        except kubeapi.NotFound:
            return None
        return entry_of(kopf.Body(cast(kopf.RawBody, body)))

    async def detach_port(self, server: ServerRef, port: PortRecord) -> Outcome:
        # The test makes the unbind conditional on the binding being this server's, so a
        # port that another server holds by now is never touched.
        unbound = conditions.with_condition(
            [],
            kind=constants.CONDITION_READY,
            status=True,
            reason=constants.REASON_UNBOUND,
            message="Not bound to any server; free to attach.",
            generation=None,
        )
        operations: kubeapi.JSONPatch = [
            {"op": "test", "path": "/status/server/uid", "value": server.uid},
            {"op": "remove", "path": "/status/server"},
            {"op": "add", "path": "/status/status", "value": constants.PORT_DOWN},
            {"op": "add", "path": "/status/conditions", "value": unbound},
        ]
        try:
            await self._api.patch(
                namespace=server.namespace, name=port.name, patch=operations, status=True
            )
        except kubeapi.NotFound:
            logger.info(f"Port {server.namespace}/{port.name} of server {server} is gone already.")
            return Outcome.FREED
        except kubeapi.Invalid:
            logger.info(f"Left port {server.namespace}/{port.name} alone: not bound to {server}.")
            return Outcome.NOT_OURS
        logger.info(f"Detached port {server.namespace}/{port.name} from server {server}.")
        return Outcome.FREED

    async def find_created_port(self, server: ServerRef, *, name: str) -> PortRecord | None:
        try:
            port = await self._api.get(namespace=server.namespace, name=name)
        except kubeapi.NotFound:
            return None
        if _labels(port).get(constants.LABEL_SERVER_UID) != server.uid:
            return None
        return PortRecord(
            name=name,
            origin=constants.ORIGIN_CREATED,
            uid=port["metadata"]["uid"],
            network=str(port["spec"].get("network", "")),
        )

    async def _reuse(self, server: ServerRef, *, name: str, adopt_from: str) -> PortRecord | None:
        """Return a port the watch shows bound to the server, rebinding it first when it is
        bound to ``adopt_from``; None when the watch shows neither, so the caller asks."""
        for owner in (server.uid, adopt_from):
            for entry in self._by_server.get(owner, []) if owner else []:
                if entry.namespace != server.namespace or entry.name != name:
                    continue
                if entry.holder == server.uid:
                    return entry.to_record()
                if adopt_from and entry.holder == adopt_from:
                    await self._rebind(server, entry, previous=adopt_from)
                    return entry.to_record()
        return None

    async def _rebind(self, server: ServerRef, entry: PortEntry, *, previous: str) -> None:
        # The test makes the move conditional on the port still being bound to the server
        # it comes from, so a port that something else took meanwhile is left alone.
        bound = conditions.with_condition(
            [],
            kind=constants.CONDITION_READY,
            status=True,
            reason=constants.REASON_BOUND,
            message=f"Bound to server {server}.",
            generation=None,
        )
        operations: kubeapi.JSONPatch = [
            {"op": "test", "path": "/status/server/uid", "value": previous},
            {
                "op": "replace",
                "path": "/status/server",
                "value": {"name": server.name, "uid": server.uid},
            },
            {"op": "add", "path": "/status/conditions", "value": bound},
        ]
        try:
            await self._api.patch(
                namespace=server.namespace, name=entry.name, patch=operations, status=True
            )
        except kubeapi.Invalid as error:
            raise kubeapi.Conflict(
                f"Port {server.namespace}/{entry.name} is no longer bound to {previous}; "
                f"looking again.",
                status=error.status,
                reason=error.reason,
            ) from error
        logger.info(f"Bound port {server.namespace}/{entry.name} to restored server {server}.")

    def _mac_for(self, port: dict[str, Any]) -> str:
        assigned = (port.get("status") or {}).get("macAddress")
        if assigned:
            return macs.normalize(assigned)
        requested = port["spec"].get("macAddress")
        if requested:
            return macs.normalize(requested)
        network = str(port["spec"].get("network", ""))
        return macs.generate(in_use=lambda mac: bool(self.mac_in_use(network=network, mac=mac)))

    async def _bind(self, server: ServerRef, port: dict[str, Any], *, mac_address: str) -> None:
        status = dict(port.get("status") or {})
        wanted = {
            "status": constants.PORT_ACTIVE,
            "macAddress": mac_address,
            "server": {"name": server.name, "uid": server.uid},
        }
        if all(status.get(key) == value for key, value in wanted.items()):
            return

        # The resourceVersion test turns a concurrent bind by another server into a
        # conflict, so a port never ends up bound to two servers.
        status.update(wanted)
        status["conditions"] = conditions.with_condition(
            list(status.get("conditions", [])),
            kind=constants.CONDITION_READY,
            status=True,
            reason=constants.REASON_BOUND,
            message=f"Bound to server {server}.",
            generation=port["metadata"].get("generation"),
        )
        operations: kubeapi.JSONPatch = [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": port["metadata"]["resourceVersion"],
            },
            {"op": "add", "path": "/status", "value": status},
        ]
        name = port["metadata"]["name"]
        try:
            await self._api.patch(
                namespace=server.namespace, name=name, patch=operations, status=True
            )
        except kubeapi.Invalid as error:
            raise kubeapi.Conflict(
                f"Port {server.namespace}/{name} changed while binding it to server {server}; "
                f"retrying.",
                status=error.status,
                reason=error.reason,
            ) from error
        logger.info(f"Bound port {server.namespace}/{name} to server {server}.")


def _labels(port: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = port.get("metadata", {}).get("labels") or {}
    return labels


def _error_message(port: dict[str, Any], *, name: str) -> str:
    for condition in (port.get("status") or {}).get("conditions", []):
        if condition.get("type") == constants.CONDITION_READY and condition.get("message"):
            return f"Port {name} is unusable: {condition['message']}"
    return f"Port {name} is in ERROR."
