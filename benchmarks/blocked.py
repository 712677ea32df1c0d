"""A deletion held by a lock: what it costs per hour, measured over a short window.

kopf wakes a held handler up at least every 10 minutes (its sleep cap in kopf 1.45). The
benchmark shortens that cap to ``keepalive`` seconds in the operator it starts
(:mod:`benchmarks.launch`), so a window of a minute covers several wake-ups, and counts:

1. the writes when the hold begins (the DeletionBlocked condition and one Event);
2. the writes over ``window`` seconds of holding, with ``window / keepalive`` wake-ups;
3. the writes while the benchmark changes an annotation on each held server ``touches``
   times, which reach kopf as events and wake the held handler.

Writes per hour are then (2) scaled from ``window / keepalive`` wake-ups to the 6 an hour
of a real operator, plus (3) per event times the events in an hour.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from benchmarks import counting, population, writes
from benchmarks.environment import Environment


@dataclasses.dataclass
class BlockedResult:
    servers: int
    keepalive: float
    window: float
    hold_start: counting.Tally
    holding: counting.Tally
    touches: int
    touched: counting.Tally
    release: counting.Tally

    @property
    def wakeups(self) -> float:
        return self.window / self.keepalive

    def writes_per_hour(self, *, events_per_hour: int = 0) -> float:
        """Estimate the writes per held server in an hour of a real operator."""
        per_wakeup = (self.holding.writes + self.holding.events) / self.wakeups
        per_event = (self.touched.writes + self.touched.events) / self.touches
        return per_wakeup * 6 + per_event * events_per_hour

    def as_json(self) -> dict[str, Any]:
        return {
            "servers": self.servers,
            "keepalive_seconds": self.keepalive,
            "window_seconds": self.window,
            "hold_start_per_server": self.hold_start.as_json(),
            "holding_per_server": self.holding.as_json(),
            "touches": self.touches,
            "touched_per_server": self.touched.as_json(),
            "release_per_server": self.release.as_json(),
            "writes_per_hour_estimate": self.writes_per_hour(),
        }


async def measure_blocked(
    env: Environment,
    *,
    count: int = 10,
    keepalive: float = 5.0,
    window: float = 30.0,
    touches: int = 10,
) -> BlockedResult:
    kube = env.kube
    namespace = await env.namespace("blocked")
    operator = env.start_operator(namespace=namespace, label="blocked", keepalive=keepalive)
    operator.wait_ready()
    names = [f"locked{i}" for i in range(count)]
    env.progress(f"  building {count} locked servers with the operator")
    await population.build_with_operator(kube, namespace, names, locked=True)
    await env.quiesce()

    async def tally(own: dict[str, int], watcher: counting.WatchTally) -> counting.Tally:
        exact = env.exact_tally(namespace)
        found = exact if exact is not None else watcher.tally(own_writes=own)
        return found.per(count)

    watcher = counting.WatchTally(kube, namespace)
    await watcher.start()
    await asyncio.sleep(0.3)

    env.reset_requests()
    watcher.reset()
    await asyncio.gather(*(kube.delete("servers", namespace, name) for name in names))

    async def all_held() -> bool:
        servers = await kube.list("servers", namespace)
        return all(_blocked(server) for server in servers if server["metadata"]["name"] in names)

    await population.wait_for(all_held, timeout=30, what="the holds")
    await env.quiesce(watcher=watcher)
    hold_start = await tally({"modify servers": count}, watcher)

    env.progress(f"  holding for {window:g}s, kopf's wake-up every {keepalive:g}s")
    env.reset_requests()
    watcher.reset()
    started = time.monotonic()
    await asyncio.sleep(window)
    measured = time.monotonic() - started
    holding = await tally({}, watcher)

    env.progress(f"  {touches} annotation changes on each held server")
    env.reset_requests()
    watcher.reset()
    for touch in range(touches):
        patch = {"metadata": {"annotations": {"bench.example.com/touch": str(touch)}}}
        await asyncio.gather(*(kube.patch("servers", namespace, name, patch) for name in names))
        await asyncio.sleep(0.5)
    await env.quiesce(watcher=watcher)
    touched = await tally({"modify servers": count * touches}, watcher)

    env.progress("  unlocking; the deletions finish")
    env.reset_requests()
    watcher.reset()
    unlock = {"spec": {"locked": False}}
    await asyncio.gather(*(kube.patch("servers", namespace, name, unlock) for name in names))
    await population.wait_for(
        lambda: writes.done_hard(kube, namespace, names), timeout=60, what="the deletions"
    )
    await env.quiesce(watcher=watcher)
    release = await tally({"modify servers": count}, watcher)
    await watcher.stop()
    operator.stop()
    return BlockedResult(
        servers=count,
        keepalive=keepalive,
        window=measured,
        hold_start=hold_start,
        holding=holding,
        touches=touches,
        touched=touched,
        release=release,
    )


def _blocked(server: dict[str, Any]) -> bool:
    for condition in server.get("status", {}).get("conditions", []):
        if condition.get("type") == "DeletionBlocked":
            return bool(condition.get("status") == "True")
    return False
