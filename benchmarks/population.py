"""Servers for the benchmarks: each with two created ports and one attached port.

:func:`build_with_operator` lets the operator build servers, as a user would. For
thousands of servers, :func:`clone` writes the same objects directly (a Server with the
finalizer and status, its two created Ports and the attached Port, all bound), copied
from one server that the operator built, so a large population takes seconds instead of
the operator's build time and the operator finds each server complete when it starts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks.kube import FINALIZER, GROUP, VERSION, Body, Kube

API_VERSION = f"{GROUP}/{VERSION}"
INTERVAL_ANNOTATION = "compute.serverops.io/reclaim-interval"
TEMPLATE_NAME = "template-server"


def port_body(name: str) -> Body:
    return {
        "apiVersion": API_VERSION,
        "kind": "Port",
        "metadata": {"name": name},
        "spec": {"network": "lan"},
    }


def server_body(
    name: str, *, annotations: dict[str, str] | None = None, locked: bool = False
) -> Body:
    spec: Body = {
        "flavor": "m1.small",
        "image": "cirros-0.6",
        "networks": [{"network": "lan"}, {"network": "storage"}, {"port": f"shared-{name}"}],
    }
    if locked:
        spec["locked"] = True
        spec["lockedReason"] = "held by the benchmark"
    metadata: Body = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": API_VERSION, "kind": "Server", "metadata": metadata, "spec": spec}


async def wait_for(
    check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1
) -> Any:
    """Poll the coroutine function ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout:g}s waiting for {what}.")
        await asyncio.sleep(interval)


async def build_with_operator(
    kube: Kube,
    namespace: str,
    names: list[str],
    *,
    annotations: dict[str, str] | None = None,
    locked: bool = False,
    timeout: float = 120.0,
) -> None:
    """Create the attached ports and the servers, and wait until the operator made every
    server ACTIVE."""
    await asyncio.gather(
        *(kube.create("ports", namespace, port_body(f"shared-{n}")) for n in names)
    )
    await asyncio.gather(
        *(
            kube.create(
                "servers", namespace, server_body(n, annotations=annotations, locked=locked)
            )
            for n in names
        )
    )
    wanted = set(names)

    async def all_active() -> bool:
        servers = await kube.list("servers", namespace)
        active = {
            s["metadata"]["name"] for s in servers if s.get("status", {}).get("status") == "ACTIVE"
        }
        return wanted <= active

    await wait_for(all_active, timeout=timeout, what=f"{len(names)} servers to be ACTIVE")


@dataclasses.dataclass
class Template:
    """One operator-built server and its three ports, as JSON text to copy from."""

    server: Body
    ports: list[Body]

    @classmethod
    async def capture(cls, kube: Kube, namespace: str) -> Template:
        await build_with_operator(kube, namespace, [TEMPLATE_NAME])
        server = await kube.get("servers", namespace, TEMPLATE_NAME)
        assert server is not None
        uid = server["metadata"]["uid"]
        ports = [
            port
            for port in await kube.list("ports", namespace)
            if (port.get("status", {}).get("server") or {}).get("uid") == uid
        ]
        if len(ports) != 3:
            raise RuntimeError(f"The template server has {len(ports)} ports, expected 3.")
        return cls(server=server, ports=ports)


def _mac(index: int, slot: int) -> str:
    number = index * 3 + slot
    return "fa:16:3e:" + ":".join(f"{(number >> shift) & 0xFF:02x}" for shift in (16, 8, 0))


def _substitute(value: Any, replacements: dict[str, str]) -> Any:
    text = json.dumps(value)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return json.loads(text)


async def clone(kube: Kube, template: Template, namespace: str, index: int, name: str) -> None:
    """Write one complete server named ``name`` with its ports, copied from ``template``.

    ``index`` picks unique MAC addresses (up to 5 million servers).
    """
    old = template.server
    old_uid = old["metadata"]["uid"]
    old_namespace = old["metadata"]["namespace"]
    names = {f"{old_namespace}/{TEMPLATE_NAME}": f"{namespace}/{name}", TEMPLATE_NAME: name}

    attached = next(
        p for p in template.ports if "origin" not in (p["metadata"].get("labels") or {})
    )
    created = [p for p in template.ports if p is not attached]
    shared = await kube.create(
        "ports", namespace, _substitute({**port_body(attached["metadata"]["name"])}, names)
    )
    server = await kube.create(
        "servers",
        namespace,
        _substitute(
            {
                "apiVersion": API_VERSION,
                "kind": "Server",
                "metadata": {"name": TEMPLATE_NAME, "finalizers": [FINALIZER]},
                "spec": old["spec"],
            },
            names,
        ),
    )
    uid = server["metadata"]["uid"]
    replacements = {old_uid: uid, old_uid[:8]: uid[:8], **names}
    replacements[attached["metadata"]["uid"]] = shared["metadata"]["uid"]
    replacements[attached["status"]["macAddress"]] = _mac(index, 0)

    made = []
    for slot, port in enumerate(created, start=1):
        replacements[port["status"]["macAddress"]] = _mac(index, slot)
        body = _substitute(
            {
                "apiVersion": API_VERSION,
                "kind": "Port",
                "metadata": {
                    "name": port["metadata"]["name"],
                    "labels": port["metadata"]["labels"],
                },
                "spec": port["spec"],
            },
            replacements,
        )
        made.append((port, await kube.create("ports", namespace, body)))
    for port, new in made:
        replacements[port["metadata"]["uid"]] = new["metadata"]["uid"]

    for port in template.ports:
        status = _substitute({"status": port["status"]}, replacements)
        await kube.patch(
            "ports",
            namespace,
            _substitute(port["metadata"]["name"], replacements),
            status,
            status=True,
        )
    await kube.patch(
        "servers",
        namespace,
        name,
        _substitute({"status": old["status"]}, replacements),
        status=True,
    )


async def clone_many(
    kube: Kube,
    template: Template,
    namespace: str,
    names: list[str],
    *,
    progress: Callable[[str], None],
) -> float:
    """Clone ``template`` under every name; return the seconds it took."""
    started = time.monotonic()
    done = 0
    batch = 500

    async def one(index: int, name: str) -> None:
        nonlocal done
        await clone(kube, template, namespace, index, name)
        done += 1

    for first in range(0, len(names), batch):
        await asyncio.gather(
            *(one(first + i, n) for i, n in enumerate(names[first : first + batch]))
        )
        progress(f"  wrote {done}/{len(names)} servers with their ports")
    return time.monotonic() - started
