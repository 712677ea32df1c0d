"""The operator's lookup tables: which ports and servers exist, and how they relate.

Each table is a :class:`serverops.lookups.ObjectIndex` with the key function below; see
:mod:`serverops.lookups` for how they are filled and why they are not kopf indexes.
"""

import copy
import dataclasses
from typing import Any

import kopf

from serverops import constants, lookups, ports, waking


def server_uid_keys(body: kopf.Body) -> dict[str, tuple[str, bool]]:
    """File a Server under its uid, with its name and whether its deletion has begun."""
    deleting = bool(body.metadata.get("deletionTimestamp"))
    return {str(body.metadata.uid): (str(body.metadata.name), deleting)}


def server_status_keys(body: kopf.Body) -> dict[str, str]:
    """File a Server under its status (BUILD, ACTIVE, ERROR), for the metrics."""
    return {str(body.status.get("status") or "UNKNOWN"): str(body.metadata.uid)}


def blocked_keys(body: kopf.Body) -> dict[str, str]:
    """File a Server or DeletedServer whose deletion is held under the reason."""
    for condition in body.status.get("conditions", []):
        if condition.get("type") == constants.CONDITION_DELETION_BLOCKED:
            if condition.get("status") == "True":
                return {str(condition.get("reason", "")): str(body.metadata.uid)}
    return {}


def deleted_server_name_keys(body: kopf.Body) -> dict[tuple[str, str], dict[str, Any]]:
    """File a DeletedServer under its namespace and name, with a copy of its body, which a
    restore reads instead of a GET."""
    key = (str(body.metadata.namespace), str(body.metadata.name))
    return {key: copy.deepcopy(dict(body))}


@dataclasses.dataclass
class Tables:
    """Every lookup table, and the kinds that feed them."""

    ports_by_server: ports.PortsByServer = dataclasses.field(
        default_factory=lambda: lookups.ObjectIndex(ports.server_keys)
    )
    ports_by_mac: ports.PortsByMac = dataclasses.field(
        default_factory=lambda: lookups.ObjectIndex(ports.mac_keys)
    )
    ports_by_name: ports.PortsByName = dataclasses.field(
        default_factory=lambda: lookups.ObjectIndex(ports.name_keys)
    )
    servers_waiting: waking.ServersByPort = dataclasses.field(
        default_factory=lambda: lookups.ObjectIndex(waking.waiting_keys)
    )
    servers_by_uid: lookups.ObjectIndex[str, tuple[str, bool]] = dataclasses.field(
        default_factory=lambda: lookups.ObjectIndex(server_uid_keys)
    )
    servers_by_status: lookups.ObjectIndex[str, str] = dataclasses.field(
        default_factory=lambda: lookups.ObjectIndex(server_status_keys)
    )
    blocked: lookups.ObjectIndex[str, str] = dataclasses.field(
        default_factory=lambda: lookups.ObjectIndex(blocked_keys)
    )
    deleted_servers_by_name: lookups.ObjectIndex[tuple[str, str], dict[str, Any]] = (
        dataclasses.field(default_factory=lambda: lookups.ObjectIndex(deleted_server_name_keys))
    )

    def kinds(self) -> dict[str, lookups.Kind]:
        return {
            constants.PORTS: lookups.Kind(
                constants.PORTS, [self.ports_by_server, self.ports_by_mac, self.ports_by_name]
            ),
            constants.SERVERS: lookups.Kind(
                constants.SERVERS,
                [self.servers_waiting, self.servers_by_uid, self.servers_by_status, self.blocked],
            ),
            constants.DELETED_SERVERS: lookups.Kind(
                constants.DELETED_SERVERS, [self.blocked, self.deleted_servers_by_name]
            ),
        }

    def live_server(self, uid: str) -> str:
        """Return the name of the Server with this uid if it exists and is not being
        deleted, as the watch saw it; '' otherwise."""
        for name, deleting in self.servers_by_uid.get(uid, []):
            if not deleting:
                return name
        return ""

    def deleted_server(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Return the DeletedServer of this name as the watch last saw it, or None."""
        for body in self.deleted_servers_by_name.get((namespace, name)):
            return body
        return None

    @staticmethod
    def counts(index: lookups.ObjectIndex[str, str]) -> dict[str, int]:
        return {key: len(values) for key, values in index.items()}
