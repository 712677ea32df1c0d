"""Run the benchmarks and write ``docs/benchmarks.md`` with its plots.

``.venv/bin/python -m benchmarks.run`` runs every part against fresh local API servers
(child processes on 127.0.0.1) and takes about 20 minutes on 2 cores. ``--quick`` runs
small sizes in a few minutes, to try the command. ``--kubeconfig PATH`` runs against
that cluster instead: each part works in a namespace of its own, which it deletes at
the end, the operator serves only that namespace, and writes are counted from watches
because a real API server has no request counters to read. The ``KUBECONFIG``
variable alone never selects a cluster, so that a plain run touches nothing but the
local servers.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import json
import pathlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import (
    apiserver,
    blocked,
    kopfsettings,
    machine,
    scale,
    softdelete,
    throughput,
    writes,
)
from benchmarks.environment import Environment
from benchmarks.processes import ROOT

PARTS = ("writes", "deletions", "scale", "soft", "blocked", "settings", "apiserver")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The size of each part: servers, samples and windows."""

    flow_servers: int = 10
    deletions: int = 1000
    idle_samples: int = 50
    shipped_scales: tuple[int, ...] = (1000, 3000, 10000)
    fixed_scales: tuple[int, ...] = ()
    idle_window: float = 30.0
    scale_cap: float = 600.0
    soft_servers: int = 10
    blocked_servers: int = 10
    blocked_window: float = 30.0
    settings_servers: int = 500
    apiserver_servers: int = 10000


QUICK = Sizes(
    flow_servers=3,
    deletions=200,
    idle_samples=10,
    shipped_scales=(100, 500),
    fixed_scales=(),
    idle_window=10.0,
    scale_cap=120.0,
    soft_servers=3,
    blocked_servers=3,
    blocked_window=10.0,
    settings_servers=100,
    apiserver_servers=1000,
)


async def _scale_point(
    env: Environment, *, sizes: Sizes, servers: int, fixed: bool
) -> scale.ScalePoint:
    return await scale.measure_point(
        env, servers, shared_index_wait=fixed, idle_window=sizes.idle_window, cap=sizes.scale_cap
    )


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        minutes, seconds = divmod(int(time.monotonic() - self.started), 60)
        print(f"[{minutes:3d}:{seconds:02d}] {message}", flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else Sizes()
    progress = Progress()
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="serverops-bench-"))
    kubeconfig = pathlib.Path(args.kubeconfig) if args.kubeconfig else None
    parts = args.parts.split(",") if args.parts else list(PARTS)
    cluster = "a real cluster, from --kubeconfig" if kubeconfig else "the local API server"
    results: dict[str, Any] = {
        "machine": machine.describe(cluster=cluster),
        "sizes": dataclasses.asdict(sizes),
        "local": kubeconfig is None,
        "parts": {},
    }
    progress(f"Working in {workdir}; logs of every process are kept there.")

    async def make_environment(label: str) -> Environment:
        return await Environment.start(
            workdir=workdir / label, kubeconfig=kubeconfig, progress=progress
        )

    async def part(name: str, body: Callable[[], Awaitable[Any]]) -> None:
        if name not in parts:
            return
        progress(f"{name}: starting")
        started = time.monotonic()
        results["parts"][name] = await body()
        progress(f"{name}: done in {time.monotonic() - started:.0f}s")

    async def with_environment(label: str, body: Callable[[Environment], Awaitable[Any]]) -> Any:
        env = await make_environment(label)
        try:
            return await body(env)
        finally:
            await env.close()

    async def flows() -> Any:
        measured = await with_environment(
            "writes", lambda env: writes.measure_flows(env, count=sizes.flow_servers)
        )
        return [result.as_json() for result in measured]

    async def deletions() -> Any:
        measured = await with_environment(
            "deletions",
            lambda env: throughput.measure_deletions(
                env, count=sizes.deletions, idle_samples=sizes.idle_samples
            ),
        )
        return measured.as_json()

    async def scales() -> Any:
        points = []
        plan = [(n, False) for n in sizes.shipped_scales] + [(n, True) for n in sizes.fixed_scales]
        for servers, fixed in plan:
            label = f"scale-{servers}-{'fixed' if fixed else 'shipped'}"
            progress(f"  {servers} servers, {'with' if fixed else 'without'} the shared index wait")
            point = await with_environment(
                label, functools.partial(_scale_point, sizes=sizes, servers=servers, fixed=fixed)
            )
            points.append(point.as_json())
        return points

    async def soft() -> Any:
        measured = await with_environment(
            "soft", lambda env: softdelete.measure_soft_delete(env, count=sizes.soft_servers)
        )
        return measured.as_json()

    async def holds() -> Any:
        measured = await with_environment(
            "blocked",
            lambda env: blocked.measure_blocked(
                env, count=sizes.blocked_servers, window=sizes.blocked_window
            ),
        )
        return measured.as_json()

    async def settings() -> Any:
        measured = await kopfsettings.measure_variants(
            make_environment, count=sizes.settings_servers
        )
        return [result.as_json() for result in measured]

    async def server() -> Any:
        if kubeconfig is not None:
            progress("  skipped: it measures the local API server only")
            return None
        return await asyncio.to_thread(apiserver.measure, sizes.apiserver_servers)

    await part("writes", flows)
    await part("deletions", deletions)
    await part("scale", scales)
    await part("soft", soft)
    await part("blocked", holds)
    await part("settings", settings)
    await part("apiserver", server)
    results["seconds"] = round(time.monotonic() - progress.started)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--kubeconfig", help="Run against this cluster instead of local servers.")
    parser.add_argument("--quick", action="store_true", help="Run small sizes, in minutes.")
    parser.add_argument(
        "--parts", help=f"Comma-separated parts to run (default all): {','.join(PARTS)}."
    )
    parser.add_argument(
        "--output",
        default=str(ROOT / "docs" / "benchmarks.md"),
        help="The results page to write; its plots and JSON go to benchmarks/ beside it.",
    )
    parser.add_argument(
        "--workdir", help="Where to keep logs and kubeconfigs (default: a temp dir)."
    )
    parser.add_argument(
        "--from-json", help="Only write the page from the results JSON of an earlier run."
    )
    args = parser.parse_args(argv)

    from benchmarks import report

    output = pathlib.Path(args.output)
    data_path = output.with_suffix("") / "results.json"
    if args.from_json:
        results = json.loads(pathlib.Path(args.from_json).read_text())
    else:
        results = asyncio.run(run(args))
        data_path.parent.mkdir(parents=True, exist_ok=True)
        data_path.write_text(json.dumps(results, indent=1) + "\n")
    report.write(results, output=output)
    print(f"Wrote {output} and its plots and data under {output.with_suffix('')}/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
