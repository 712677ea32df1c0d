"""Manifests of Servers and Ports for the tests."""

from typing import Any


def server_manifest(
    name: str,
    *,
    networks: list[dict[str, str]],
    locked: bool = False,
    locked_reason: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"flavor": "m1.small", "image": "cirros-0.6", "networks": networks}
    if locked:
        spec["locked"] = True
    if locked_reason:
        spec["lockedReason"] = locked_reason
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "compute.serverops.io/v1alpha1",
        "kind": "Server",
        "metadata": metadata,
        "spec": spec,
    }


def port_manifest(name: str, *, network: str = "lan", mac: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"network": network}
    if mac:
        spec["macAddress"] = mac
    return {
        "apiVersion": "compute.serverops.io/v1alpha1",
        "kind": "Port",
        "metadata": {"name": name},
        "spec": spec,
    }
