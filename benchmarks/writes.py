"""API writes per deletion, by flow, against the floor of each flow.

Each flow runs on ``count`` servers with two created ports and one attached port, built
by the operator; the operator's requests from the user's action until it is quiet again
are divided by ``count``.

The floor of a flow is the writes its visible outcome needs, with nothing recorded on
the way:

- hard delete, 4: a DELETE per created port, the detach of the attached port (one status
  write) and the release of the Server's finalizer.
- soft delete, 3: the DeletedServer's creation, its status (``SOFT_DELETED``; the status
  subresource ignores a status sent with the creation) and the Server's finalizer.
- restore, 7: the Server's creation, one binding per port (3), the Server's status, and
  the DeletedServer's DELETE plus its finalizer's release (it carries the finalizer from
  its creation, so that a purge always runs first).
- purge (force delete), 4: as a hard delete, with the DeletedServer's finalizer.
- reclaim, 5: the purge, plus the operator's own DELETE of the DeletedServer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import counting, population
from benchmarks.environment import Environment
from benchmarks.kube import Kube

FLOORS = {"hard delete": 4, "soft delete": 3, "restore": 7, "purge": 4, "reclaim": 5}
RESTORE_ANNOTATION = "compute.serverops.io/restore"
RESTORED_FROM = "compute.serverops.io/restored-from"
RECLAIM_SECONDS = 6


@dataclasses.dataclass
class FlowResult:
    flow: str
    floor: int
    count: int
    exact: counting.Tally | None
    observed: counting.Tally | None

    @property
    def writes(self) -> float:
        tally = self.exact or self.observed
        assert tally is not None
        return float(tally.writes)

    @property
    def over_floor(self) -> float:
        return self.writes - self.floor

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "floor": self.floor,
            "servers": self.count,
            "exact": self.exact.as_json() if self.exact else None,
            "watch_observed": self.observed.as_json() if self.observed else None,
        }


async def done_hard(kube: Kube, namespace: str, names: list[str]) -> bool:
    servers = {s["metadata"]["name"] for s in await kube.list("servers", namespace)}
    if servers & set(names):
        return False
    ports = {p["metadata"]["name"]: p for p in await kube.list("ports", namespace)}
    for name in names:
        shared = ports.get(f"shared-{name}")
        if shared is None or shared.get("status", {}).get("server"):
            return False
        if any(p.startswith(f"{name}-") for p in ports):
            return False
    return True


async def _deleted_servers(kube: Kube, namespace: str, names: list[str]) -> dict[str, Any]:
    """Return the DeletedServers of ``names`` by original name."""
    return {
        d["spec"]["originalName"]: d
        for d in await kube.list("deletedservers", namespace)
        if d["spec"]["originalName"] in names
    }


async def done_soft(kube: Kube, namespace: str, names: list[str]) -> bool:
    servers = {s["metadata"]["name"] for s in await kube.list("servers", namespace)}
    if servers & set(names):
        return False
    records = await _deleted_servers(kube, namespace, names)
    return len(records) == len(names) and all(
        d.get("status", {}).get("status") == "SOFT_DELETED" for d in records.values()
    )


async def done_restore(kube: Kube, namespace: str, names: list[str]) -> bool:
    if await _deleted_servers(kube, namespace, names):
        return False
    servers = {s["metadata"]["name"]: s for s in await kube.list("servers", namespace)}
    for name in names:
        server = servers.get(name)
        if server is None or server.get("status", {}).get("status") != "ACTIVE":
            return False
        origin = (server["metadata"].get("annotations") or {}).get(RESTORED_FROM)
        if not origin or server["status"].get("restoredFrom") != origin:
            return False
    return True


async def done_purge(kube: Kube, namespace: str, names: list[str]) -> bool:
    if await _deleted_servers(kube, namespace, names):
        return False
    return await done_hard(kube, namespace, names)


async def _measure(
    env: Environment,
    namespace: str,
    *,
    flow: str,
    names: list[str],
    act: Callable[[], Awaitable[Any]],
    done: Callable[[Kube, str, list[str]], Awaitable[bool]],
    own_writes: dict[str, int],
    timeout: float = 60.0,
) -> FlowResult:
    watcher = counting.WatchTally(env.kube, namespace)
    await watcher.start()
    await asyncio.sleep(0.3)
    env.reset_requests()
    watcher.reset()
    await act()
    await population.wait_for(
        lambda: done(env.kube, namespace, names), timeout=timeout, what=f"the {flow} to finish"
    )
    await env.quiesce(watcher=watcher)
    count = len(names)
    exact = env.exact_tally(namespace)
    observed = watcher.tally(own_writes={k: v * count for k, v in own_writes.items()})
    await watcher.stop()
    return FlowResult(
        flow=flow,
        floor=FLOORS[flow],
        count=count,
        exact=exact.per(count) if exact else None,
        observed=observed.per(count),
    )


async def measure_flows(env: Environment, *, count: int = 10) -> list[FlowResult]:
    """Measure every flow on ``count`` servers each; the operator runs meanwhile."""
    kube = env.kube
    namespace = await env.namespace("writes")
    operator = env.start_operator(namespace=namespace, label="writes")
    operator.wait_ready()
    groups = {key: [f"{key}{i}" for i in range(count)] for key in ("hard", "soft", "purge", "rec")}
    env.progress(f"  building {4 * count} servers with the operator")
    await population.build_with_operator(kube, namespace, groups["hard"])
    hour = {population.INTERVAL_ANNOTATION: "1h"}
    await population.build_with_operator(kube, namespace, groups["soft"], annotations=hour)
    await population.build_with_operator(kube, namespace, groups["purge"], annotations=hour)
    await env.quiesce()

    async def delete_servers(names: list[str]) -> None:
        await asyncio.gather(*(kube.delete("servers", namespace, n) for n in names))

    results = []
    env.progress("  hard delete")
    results.append(
        await _measure(
            env,
            namespace,
            flow="hard delete",
            names=groups["hard"],
            act=lambda: delete_servers(groups["hard"]),
            done=done_hard,
            own_writes={"modify servers": 1},
        )
    )

    env.progress("  soft delete")
    results.append(
        await _measure(
            env,
            namespace,
            flow="soft delete",
            names=groups["soft"],
            act=lambda: delete_servers(groups["soft"]),
            done=done_soft,
            own_writes={"modify servers": 1},
        )
    )

    async def request_restore() -> None:
        records = await _deleted_servers(kube, namespace, groups["soft"])
        patch = {"metadata": {"annotations": {RESTORE_ANNOTATION: "true"}}}
        await asyncio.gather(
            *(
                kube.patch("deletedservers", namespace, d["metadata"]["name"], patch)
                for d in records.values()
            )
        )

    env.progress("  restore")
    results.append(
        await _measure(
            env,
            namespace,
            flow="restore",
            names=groups["soft"],
            act=request_restore,
            done=done_restore,
            own_writes={"modify deletedservers": 1},
        )
    )

    await delete_servers(groups["purge"])
    await population.wait_for(
        lambda: done_soft(kube, namespace, groups["purge"]), timeout=60, what="soft deletes"
    )
    await env.quiesce()

    async def force_delete() -> None:
        records = await _deleted_servers(kube, namespace, groups["purge"])
        await asyncio.gather(
            *(
                kube.delete("deletedservers", namespace, d["metadata"]["name"])
                for d in records.values()
            )
        )

    env.progress("  purge (force delete)")
    results.append(
        await _measure(
            env,
            namespace,
            flow="purge",
            names=groups["purge"],
            act=force_delete,
            done=done_purge,
            own_writes={"modify deletedservers": 1},
        )
    )

    # The reclaim interval starts at the deletion, so the servers are built and deleted
    # just before the measurement, which begins once the soft deletes are done.
    interval = {population.INTERVAL_ANNOTATION: f"{RECLAIM_SECONDS}s"}
    await population.build_with_operator(kube, namespace, groups["rec"], annotations=interval)
    await env.quiesce()
    await delete_servers(groups["rec"])
    await population.wait_for(
        lambda: done_soft(kube, namespace, groups["rec"]), timeout=60, what="soft deletes"
    )
    await env.quiesce(quiet=0.5)

    async def nothing() -> None:
        return None

    env.progress(f"  reclaim (waits for the {RECLAIM_SECONDS}s interval)")
    results.append(
        await _measure(
            env,
            namespace,
            flow="reclaim",
            names=groups["rec"],
            act=nothing,
            done=done_purge,
            own_writes={},
        )
    )
    operator.stop()
    return results
