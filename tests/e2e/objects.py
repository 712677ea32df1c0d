"""Reading and writing Servers and Ports in one namespace through the ``kubernetes`` client."""

import dataclasses
from typing import Any

import kubernetes

from tests.e2e.harness import wait_for
from tests.e2e.manifests import port_manifest, server_manifest

GROUP = "compute.serverops.io"
VERSION = "v1alpha1"


@dataclasses.dataclass
class Objects:
    """Servers and Ports of one namespace."""

    api: kubernetes.client.CustomObjectsApi
    namespace: str

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        plural = "servers" if manifest["kind"] == "Server" else "ports"
        created: dict[str, Any] = self.api.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, manifest
        )
        return created

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.api.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name
            )
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return found

    def server(self, name: str) -> dict[str, Any] | None:
        return self.get("servers", name)

    def port(self, name: str) -> dict[str, Any] | None:
        return self.get("ports", name)

    def deleted_servers(self) -> list[dict[str, Any]]:
        listed = self.api.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "deletedservers"
        )
        items: list[dict[str, Any]] = listed["items"]
        return items

    def wait_deleted_server(self, *, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for the namespace's one DeletedServer to have its status, and return it."""

        def recorded() -> dict[str, Any] | None:
            for item in self.deleted_servers():
                if item.get("status", {}).get("status") == "SOFT_DELETED":
                    return item
            return None

        return wait_for(recorded, timeout=timeout, message="a SOFT_DELETED DeletedServer")

    def ports(self, *, label_selector: str = "") -> list[dict[str, Any]]:
        listed = self.api.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "ports", label_selector=label_selector
        )
        items: list[dict[str, Any]] = listed["items"]
        return items

    def created_ports_of(self, server_uid: str) -> list[dict[str, Any]]:
        return self.ports(label_selector=f"{GROUP}/server-uid={server_uid}")

    def patch_server(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        patched: dict[str, Any] = self.api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "servers", name, patch
        )
        return patched

    def wait_status(self, name: str, status: str, *, timeout: float = 10.0) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            server = self.server(name)
            if server is not None and server.get("status", {}).get("status") == status:
                return server
            return None

        return wait_for(reached, timeout=timeout, message=f"server {name} to be {status}")

    def wait_gone(self, plural: str, name: str, *, timeout: float = 10.0) -> None:
        wait_for(
            lambda: self.get(plural, name) is None,
            timeout=timeout,
            message=f"{plural} {self.namespace}/{name} to be gone",
        )

    def wait_condition(
        self,
        name: str,
        kind: str,
        *,
        status: str,
        reason: str = "",
        timeout: float = 10.0,
        plural: str = "servers",
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            body = self.get(plural, name) or {}
            for condition in body.get("status", {}).get("conditions", []):
                if condition.get("type") != kind or condition.get("status") != status:
                    continue
                if reason and condition.get("reason") != reason:
                    continue
                found: dict[str, Any] = condition
                return found
            return None

        return wait_for(reached, timeout=timeout, message=f"{name} {kind}={status} {reason}")


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in body.get("status", {}).get("conditions", []):
        if item.get("type") == kind:
            found: dict[str, Any] = item
            return found
    raise AssertionError(f"No {kind} condition in {body.get('status')}")


def make_web(objects: Objects, *, name: str = "web-1", **options: Any) -> dict[str, Any]:
    """Create a server with ports on lan and storage and the attached port shared-<name>."""
    objects.create(port_manifest(f"shared-{name}"))
    networks = [{"network": "lan"}, {"network": "storage"}, {"port": f"shared-{name}"}]
    objects.create(server_manifest(name, networks=networks, **options))
    return objects.wait_status(name, "ACTIVE")


def ports_by_origin(server: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    listed = server["status"]["ports"]
    created = [port for port in listed if port["origin"] == "created"]
    attached = [port for port in listed if port["origin"] == "attached"]
    return created, attached


def assert_freed(objects: Objects, server: dict[str, Any]) -> None:
    """Check the end state of a hard delete: created ports gone, attached ones kept."""
    created, attached = ports_by_origin(server)
    for port in created:
        assert objects.port(port["name"]) is None, f"created port {port['name']} still exists"
    assert objects.created_ports_of(server["metadata"]["uid"]) == []
    for port in attached:
        kept = objects.port(port["name"])
        assert kept is not None, f"attached port {port['name']} was deleted"
        assert kept["status"]["status"] == "DOWN"
        assert "server" not in kept["status"]
        assert kept["status"]["macAddress"] == port["macAddress"]
        assert kept["metadata"].get("deletionTimestamp") is None
