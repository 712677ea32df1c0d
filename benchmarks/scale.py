"""One operator over many servers: start-up time, memory, and API requests while idle.

A point starts a fresh API server (locally) with ``servers`` complete servers written
directly, then starts the operator. "Handled" means kopf has logged the success of the
creation handler of every Server and every Port (:meth:`processes.Operator.handled`):
after a start the operator runs it once for every object, and only then does it act on
changes as fast as it does later.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import counting, population
from benchmarks.environment import Environment

EnvironmentFactory = Callable[[str], Awaitable[Environment]]


@dataclasses.dataclass
class ScalePoint:
    servers: int
    shared_index_wait: bool
    populate_seconds: float = 0.0
    ready_seconds: float = 0.0
    handled_seconds: float | None = None
    handled_at_cap: tuple[int, int] = (0, 0)
    startup_cpu_seconds: float = 0.0
    rss_handled_bytes: int = 0
    rss_idle_bytes: int = 0
    peak_rss_bytes: int = 0
    startup: counting.Tally | None = None
    idle_seconds: float = 0.0
    idle: counting.Tally | None = None
    idle_cpu_seconds: float = 0.0

    @property
    def objects(self) -> int:
        return 4 * (self.servers + 1)

    def idle_per_minute(self, field: str) -> float | None:
        if self.idle is None or not self.idle_seconds:
            return None
        return float(getattr(self.idle, field)) * 60 / self.idle_seconds

    def as_json(self) -> dict[str, Any]:
        return {
            "servers": self.servers,
            "objects": self.objects,
            "shared_index_wait": self.shared_index_wait,
            "populate_seconds": round(self.populate_seconds, 2),
            "ready_seconds": round(self.ready_seconds, 2),
            "handled_seconds": None
            if self.handled_seconds is None
            else round(self.handled_seconds, 2),
            "handled_at_cap": list(self.handled_at_cap),
            "startup_cpu_seconds": round(self.startup_cpu_seconds, 2),
            "rss_handled_mib": round(self.rss_handled_bytes / 2**20, 1),
            "rss_idle_mib": round(self.rss_idle_bytes / 2**20, 1),
            "peak_rss_mib": round(self.peak_rss_bytes / 2**20, 1),
            "startup": self.startup.as_json() if self.startup else None,
            "idle_seconds": round(self.idle_seconds, 1),
            "idle": self.idle.as_json() if self.idle else None,
            "idle_writes_per_minute": self.idle_per_minute("writes"),
            "idle_reads_per_minute": self.idle_per_minute("reads"),
            "idle_cpu_seconds": round(self.idle_cpu_seconds, 2),
        }


async def measure_point(
    env: Environment,
    servers: int,
    *,
    shared_index_wait: bool,
    idle_window: float,
    cap: float,
) -> ScalePoint:
    """Measure one point on ``env``, which the caller made fresh for it."""
    point = ScalePoint(servers=servers, shared_index_wait=shared_index_wait)
    namespace = await env.namespace("scale")
    template_operator = env.start_operator(namespace=namespace, label="template")
    template_operator.wait_ready()
    template = await population.Template.capture(env.kube, namespace)
    template_operator.stop()

    names = [f"s{index}" for index in range(servers)]
    point.populate_seconds = await population.clone_many(
        env.kube, template, namespace, names, progress=env.progress
    )

    env.reset_requests()
    operator = env.start_operator(
        namespace=namespace, label=f"scale-{servers}", shared_index_wait=shared_index_wait
    )
    point.ready_seconds = operator.wait_ready()
    wanted_servers, wanted_ports = servers + 1, 3 * (servers + 1)
    reported = time.monotonic()
    while True:
        handled_servers, handled_ports, _ = operator.handled()
        elapsed = time.monotonic() - operator.started
        if handled_servers >= wanted_servers and handled_ports >= wanted_ports:
            point.handled_seconds = elapsed
            break
        if elapsed > cap:
            point.handled_at_cap = (handled_servers, handled_ports)
            env.progress(
                f"  not handled within {cap:g}s: {handled_servers}/{wanted_servers} servers, "
                f"{handled_ports}/{wanted_ports} ports"
            )
            break
        if time.monotonic() - reported > 15:
            reported = time.monotonic()
            env.progress(
                f"  {elapsed:.0f}s: handled {handled_servers}/{wanted_servers} servers, "
                f"{handled_ports}/{wanted_ports} ports"
            )
        await asyncio.sleep(0.25)

    usage = operator.child.usage()
    point.startup_cpu_seconds = usage.cpu_seconds
    point.rss_handled_bytes = usage.rss_bytes
    point.startup = env.exact_tally()
    if point.handled_seconds is None:
        operator.stop()
        return point

    # Let the per-object workers go idle and exit (kopf's idle_timeout) before the window.
    await asyncio.sleep(6)
    env.reset_requests()
    watcher = counting.WatchTally(env.kube, namespace)
    await watcher.start()
    before = operator.child.usage()
    started = time.monotonic()
    env.progress(f"  idle window of {idle_window:g}s")
    await asyncio.sleep(idle_window)
    point.idle_seconds = time.monotonic() - started
    after = operator.child.usage()
    point.idle_cpu_seconds = after.cpu_seconds - before.cpu_seconds
    point.rss_idle_bytes = after.rss_bytes
    point.peak_rss_bytes = after.peak_rss_bytes
    point.idle = env.exact_tally() or watcher.tally(own_writes={})
    await watcher.stop()
    operator.stop()
    return point
