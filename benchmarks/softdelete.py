"""Soft delete as a user sees it: how long ``kubectl delete`` takes, how close to
``reclaimAt`` the reclaim comes, and how long a restore takes.

``kubectl delete`` is the real one (``/usr/bin/kubectl``), which waits until the Server
is gone. Hard deletes of the same servers are timed alongside for comparison. The
reclaim delay comes from the operator's log ("Reclaiming DeletedServer ..., 0.1s after
its reclaim time") and from its ``serverops_reclaim_delay_seconds`` histogram.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import re
import shutil
import subprocess
import time
from typing import Any

from benchmarks import population, processes, writes
from benchmarks.environment import Environment

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
RESTORE = "compute.serverops.io/restore"
_RECLAIM_LOG = re.compile(r"Reclaiming DeletedServer \S+, (-?[0-9.]+)s after its reclaim time")
_HISTOGRAM = re.compile(r"^serverops_reclaim_delay_seconds_(sum|count) ([0-9.e+-]+)$", re.M)


@dataclasses.dataclass
class SoftDeleteResult:
    kubectl_soft: list[float]
    kubectl_hard: list[float]
    restore: list[float]
    reclaim_logged: list[float]
    reclaim_metric_mean: float | None
    reclaim_interval: int

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _kubectl(env: Environment, *args: str) -> float:
    command = [
        KUBECTL,
        f"--kubeconfig={env.kubeconfig}",
        f"--cache-dir={env.workdir / 'kubectl-cache'}",
        *args,
    ]
    started = time.monotonic()
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        timeout=120,
        env=dict(os.environ, HOME=str(env.workdir)),
    )
    return time.monotonic() - started


async def measure_soft_delete(
    env: Environment, *, count: int = 10, reclaim_seconds: int = 5
) -> SoftDeleteResult:
    kube = env.kube
    namespace = await env.namespace("soft")
    operator = env.start_operator(
        namespace=namespace, label="soft", metrics_port=processes.free_port()
    )
    operator.wait_ready()
    hour = {population.INTERVAL_ANNOTATION: "1h"}
    short = {population.INTERVAL_ANNOTATION: f"{reclaim_seconds}s"}
    soft = [f"soft{i}" for i in range(count)]
    hard = [f"hard{i}" for i in range(count)]
    env.progress(f"  building {2 * count} servers with the operator")
    await population.build_with_operator(kube, namespace, soft, annotations=hour)
    await population.build_with_operator(kube, namespace, hard)
    await env.quiesce()
    # The first kubectl call fills the discovery cache; it is not timed.
    await asyncio.to_thread(_kubectl, env, "get", "servers", "-n", namespace)

    env.progress("  kubectl delete, soft and hard, one server at a time")
    kubectl_soft = []
    kubectl_hard = []
    for soft_name, hard_name in zip(soft, hard, strict=True):
        kubectl_soft.append(
            await asyncio.to_thread(_kubectl, env, "delete", "server", soft_name, "-n", namespace)
        )
        kubectl_hard.append(
            await asyncio.to_thread(_kubectl, env, "delete", "server", hard_name, "-n", namespace)
        )

    env.progress("  restore, one server at a time")
    restore = []
    records = {
        d["spec"]["originalName"]: d["metadata"]["name"]
        for d in await kube.list("deletedservers", namespace)
    }
    for name in soft:
        await population.wait_for(
            functools.partial(_recorded, env, namespace, records[name]),
            timeout=30,
            what="the record",
        )
        started = time.monotonic()
        patch = {"metadata": {"annotations": {RESTORE: "true"}}}
        await kube.patch("deletedservers", namespace, records[name], patch)
        await population.wait_for(
            functools.partial(_restored, env, namespace, name, records[name]),
            timeout=60,
            what=f"the restore of {name}",
            interval=0.02,
        )
        restore.append(time.monotonic() - started)

    env.progress(f"  reclaim after {reclaim_seconds}s")
    reclaimed = [f"rec{i}" for i in range(count)]
    await population.build_with_operator(kube, namespace, reclaimed, annotations=short)
    await asyncio.gather(*(kube.delete("servers", namespace, name) for name in reclaimed))
    await population.wait_for(
        lambda: writes.done_soft(kube, namespace, reclaimed), timeout=60, what="the records"
    )

    async def all_reclaimed() -> bool:
        listed = await kube.list("deletedservers", namespace)
        return not any(d["spec"]["originalName"] in reclaimed for d in listed)

    await population.wait_for(all_reclaimed, timeout=reclaim_seconds + 60, what="the reclaims")
    logged = [
        float(match.group(1))
        for line in operator.log_lines()
        if (match := _RECLAIM_LOG.search(line)) is not None
    ]
    metric_mean = None
    histogram = dict(_HISTOGRAM.findall(operator.metrics()))
    if float(histogram.get("count", 0)):
        metric_mean = float(histogram["sum"]) / float(histogram["count"])
    operator.stop()
    return SoftDeleteResult(
        kubectl_soft=kubectl_soft,
        kubectl_hard=kubectl_hard,
        restore=restore,
        reclaim_logged=logged,
        reclaim_metric_mean=metric_mean,
        reclaim_interval=reclaim_seconds,
    )


async def _recorded(env: Environment, namespace: str, record: str) -> bool:
    found = await env.kube.get("deletedservers", namespace, record)
    return bool(found and found.get("status", {}).get("status") == "SOFT_DELETED")


async def _restored(env: Environment, namespace: str, name: str, record: str) -> bool:
    server = await env.kube.get("servers", namespace, name)
    if server is None or server.get("status", {}).get("status") != "ACTIVE":
        return False
    return await env.kube.get("deletedservers", namespace, record) is None
