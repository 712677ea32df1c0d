"""Throughput and latency of hard deletes: the operator against a direct script.

Both runs start from the same population, written directly (:func:`population.clone`):
servers with the finalizer, two created ports and one attached port, all bound.

- With the operator, the driver sends every DELETE at once (at most ``concurrency`` in
  flight) and a watch records when each server is gone. A server goes only after its
  ports are freed, so its DELETED event ends its deletion.
- The direct script does, for each server, the user's DELETE and then the floor's four
  writes, the same requests the operator makes: a DELETE with a uid precondition per
  created port, a JSON patch that detaches the attached port if it is still bound to
  the server, and a JSON patch that removes the finalizer, guarded by the
  resourceVersion. It holds the same ``concurrency`` as the driver, and no operator runs.

Latency is from the DELETE's response to the server's DELETED event (with the
operator) or to the finalizer patch's response (direct).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from benchmarks import population, processes
from benchmarks.environment import Environment
from benchmarks.kube import Body, Kube

DETACHED_CONDITION = {
    "type": "Ready",
    "status": "True",
    "reason": "Unbound",
    "message": "Not bound to any server; free to attach.",
}


@dataclasses.dataclass
class RunResult:
    """One run of deletions: how long, how fast, and what it cost."""

    label: str
    count: int
    seconds: float
    latencies: list[float]
    writes_per_server: float | None = None
    reads_per_server: float | None = None
    events_per_server: float | None = None
    operator_cpu: float | None = None
    apiserver_cpu: float | None = None

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "servers": self.count,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.count / self.seconds, 1),
            "latency_p50": round(self.p50, 4),
            "latency_p99": round(self.p99, 4),
            "latency_max": round(max(self.latencies), 4),
            "writes_per_server": self.writes_per_server,
            "reads_per_server": self.reads_per_server,
            "events_per_server": self.events_per_server,
            "operator_cpu_seconds": self.operator_cpu,
            "apiserver_cpu_seconds": self.apiserver_cpu,
        }


def percentile(values: list[float], pct: float) -> float:
    """Return the nearest-rank percentile ``pct`` of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class GoneWatch:
    """Record when each server of a namespace is DELETED, from a watch."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.gone: dict[str, float] = {}
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listing = await self.kube.request(
            "GET", self.kube.path("servers", self.namespace), params={"limit": "1"}
        )
        version = listing["metadata"]["resourceVersion"]
        self.task = asyncio.create_task(self._follow(version))

    async def _follow(self, version: str) -> None:
        async for event in self.kube.watch("servers", self.namespace, resource_version=version):
            if event.get("type") == "DELETED":
                self.gone[event["object"]["metadata"]["name"]] = time.monotonic()
                self.changed.set()

    async def wait_all(self, names: list[str], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        wanted = set(names)
        while not wanted <= self.gone.keys():
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = len(wanted - self.gone.keys())
                raise TimeoutError(f"{missing} servers were still there after {timeout:g}s.")
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=remaining)
            except TimeoutError:
                continue

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass


def _usage(process: processes.Operator | processes.LocalAPIServer | None) -> float | None:
    if process is None:
        return None
    return process.child.usage().cpu_seconds


async def delete_with_operator(
    env: Environment,
    namespace: str,
    names: list[str],
    *,
    operator: processes.Operator | None,
    label: str,
    timeout: float = 600.0,
) -> RunResult:
    """Delete ``names`` at once and wait until the operator has released each one."""
    kube = env.kube
    watch = GoneWatch(kube, namespace)
    await watch.start()
    await asyncio.sleep(0.2)
    env.reset_requests()
    operator_cpu, apiserver_cpu = _usage(operator), _usage(env.apiserver)
    accepted: dict[str, float] = {}

    async def delete(name: str) -> None:
        await kube.delete("servers", namespace, name)
        accepted[name] = time.monotonic()

    started = time.monotonic()
    await asyncio.gather(*(delete(name) for name in names))
    await watch.wait_all(names, timeout=timeout)
    seconds = max(watch.gone[name] for name in names) - started
    await watch.stop()

    result = RunResult(
        label=label,
        count=len(names),
        seconds=seconds,
        latencies=[watch.gone[name] - accepted[name] for name in names],
    )
    tally = env.exact_tally(namespace)
    if tally is not None:
        result.writes_per_server = tally.writes / len(names)
        result.reads_per_server = tally.reads / len(names)
        result.events_per_server = tally.events / len(names)
    if operator_cpu is not None:
        result.operator_cpu = _usage(operator) - operator_cpu  # type: ignore[operator]
    if apiserver_cpu is not None:
        result.apiserver_cpu = _usage(env.apiserver) - apiserver_cpu  # type: ignore[operator]
    return result


async def _servers_by_name(kube: Kube, namespace: str) -> dict[str, Body]:
    return {s["metadata"]["name"]: s for s in await kube.list("servers", namespace)}


async def delete_directly(
    env: Environment, namespace: str, names: list[str], *, label: str = "direct"
) -> RunResult:
    """Do the user's DELETE and the floor's writes for each server, with no operator."""
    kube = env.kube
    servers = await _servers_by_name(kube, namespace)
    env.reset_requests()
    apiserver_cpu = _usage(env.apiserver)
    latencies: list[float] = []

    async def free(name: str) -> None:
        server = servers[name]
        uid = server["metadata"]["uid"]
        deleted = await kube.delete("servers", namespace, name)
        accepted = time.monotonic()
        steps = []
        for port in server["status"]["ports"]:
            if port["origin"] == "created":
                steps.append(kube.delete("ports", namespace, port["name"], uid=port["uid"]))
            else:
                detach = [
                    {"op": "test", "path": "/status/server/uid", "value": uid},
                    {"op": "remove", "path": "/status/server"},
                    {"op": "add", "path": "/status/status", "value": "DOWN"},
                    {"op": "add", "path": "/status/conditions", "value": [DETACHED_CONDITION]},
                ]
                steps.append(kube.patch("ports", namespace, port["name"], detach, status=True))
        await asyncio.gather(*steps)
        release = [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": deleted["metadata"]["resourceVersion"],
            },
            {"op": "remove", "path": "/metadata/finalizers/0"},
        ]
        await kube.patch("servers", namespace, name, release)
        latencies.append(time.monotonic() - accepted)

    started = time.monotonic()
    await asyncio.gather(*(free(name) for name in names))
    seconds = time.monotonic() - started
    result = RunResult(label=label, count=len(names), seconds=seconds, latencies=latencies)
    if apiserver_cpu is not None:
        result.apiserver_cpu = _usage(env.apiserver) - apiserver_cpu  # type: ignore[operator]
    return result


async def delete_one_by_one(
    env: Environment, namespace: str, names: list[str], *, direct: bool, label: str
) -> RunResult:
    """Delete the servers one at a time, each after the last is gone: idle latency."""
    latencies: list[float] = []
    started = time.monotonic()
    for name in names:
        if direct:
            result = await delete_directly(env, namespace, [name])
        else:
            result = await delete_with_operator(env, namespace, [name], operator=None, label=label)
        latencies.extend(result.latencies)
    return RunResult(
        label=label, count=len(names), seconds=time.monotonic() - started, latencies=latencies
    )


async def populate(
    env: Environment, namespace: str, template: population.Template, names: list[str]
) -> float:
    return await population.clone_many(env.kube, template, namespace, names, progress=env.progress)


@dataclasses.dataclass
class DeletionResults:
    """The operator's and the direct script's runs on the same population."""

    startup_seconds: float | None
    operator_idle: RunResult
    operator_load: RunResult
    direct_idle: RunResult
    direct_load: RunResult

    @property
    def ratio(self) -> float:
        return self.operator_load.seconds / self.direct_load.seconds

    def as_json(self) -> dict[str, Any]:
        return {
            "startup_seconds": self.startup_seconds,
            "ratio": round(self.ratio, 2),
            "operator_idle": self.operator_idle.as_json(),
            "operator_load": self.operator_load.as_json(),
            "direct_idle": self.direct_idle.as_json(),
            "direct_load": self.direct_load.as_json(),
            "operator_load_latencies": sorted(round(x, 4) for x in self.operator_load.latencies),
            "direct_load_latencies": sorted(round(x, 4) for x in self.direct_load.latencies),
        }


async def wait_handled(
    operator: processes.Operator, *, servers: int, timeout: float, progress: Any
) -> float | None:
    """Wait until the operator has handled every server and port; return the seconds
    since it started, or None after ``timeout``."""
    reported = time.monotonic()
    while True:
        handled_servers, handled_ports, _ = operator.handled()
        elapsed = time.monotonic() - operator.started
        if handled_servers >= servers and handled_ports >= 3 * servers:
            return elapsed
        if elapsed > timeout:
            return None
        if time.monotonic() - reported > 15:
            reported = time.monotonic()
            progress(f"  {elapsed:.0f}s: the operator handled {handled_servers}/{servers} servers")
        await asyncio.sleep(0.25)


async def measure_deletions(
    env: Environment,
    *,
    count: int,
    idle_samples: int,
    settings: dict[str, Any] | None = None,
    shared_index_wait: bool = False,
) -> DeletionResults:
    """Run the operator's and the direct deletions on two copies of one population."""
    namespace = await env.namespace("delete")
    template_operator = env.start_operator(namespace=namespace, label="template")
    template_operator.wait_ready()
    template = await population.Template.capture(env.kube, namespace)
    template_operator.stop()

    names = [f"s{index}" for index in range(count)]
    idle = [f"idle{index}" for index in range(idle_samples)]
    await populate(env, namespace, template, names + idle)

    env.progress("  starting the operator and waiting until it has handled every server")
    operator = env.start_operator(
        namespace=namespace,
        label="deletions",
        settings=settings,
        shared_index_wait=shared_index_wait,
    )
    operator.wait_ready()
    startup = await wait_handled(
        operator, servers=len(names) + len(idle) + 1, timeout=900, progress=env.progress
    )
    await env.quiesce(quiet=2.0, timeout=120)
    await asyncio.sleep(6)

    env.progress(f"  {idle_samples} deletions one at a time, operator otherwise idle")
    operator_idle = await delete_one_by_one(
        env, namespace, idle, direct=False, label="operator, idle"
    )
    env.progress(f"  {count} deletions at once")
    operator_load = await delete_with_operator(
        env, namespace, names, operator=operator, label="operator, all at once"
    )
    operator.stop()

    direct_namespace = await env.namespace("direct")
    await populate(env, direct_namespace, template, names + idle)
    env.progress("  the same deletions by the direct script, no operator running")
    direct_idle = await delete_one_by_one(
        env, direct_namespace, idle, direct=True, label="direct, one at a time"
    )
    direct_load = await delete_directly(env, direct_namespace, names, label="direct, all at once")
    return DeletionResults(
        startup_seconds=startup,
        operator_idle=operator_idle,
        operator_load=operator_load,
        direct_idle=direct_idle,
        direct_load=direct_load,
    )
