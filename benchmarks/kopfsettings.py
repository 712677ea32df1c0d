"""The cost of kopf's settings, measured by running the same deletions per variant.

Every variant starts from ``count`` complete servers, starts the operator with one
change to the settings that ``serverops.operating.build_settings`` returns (through
:mod:`benchmarks.launch`), waits until it has handled every object, then deletes all
servers at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import population, throughput
from benchmarks.environment import Environment


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    annotations: bool = False
    note: str = ""


VARIANTS = (
    Variant("serverops as shipped", note="memory storages, no log Events, no worker limit"),
    Variant(
        "kopf's annotation storages",
        annotations=True,
        note="handler progress and last handled spec in annotations (kopf's default)",
    ),
    Variant(
        "log lines posted as Events",
        settings={"posting.loggers": True, "posting.level": 20},
        note="every INFO line about an object becomes an Event (kopf's default before 1.44)",
    ),
    Variant("worker_limit 100", settings={"queueing.worker_limit": 100}),
    Variant("idle_timeout 1 s", settings={"queueing.idle_timeout": 1.0}),
    Variant("idle_timeout 60 s", settings={"queueing.idle_timeout": 60.0}),
)


@dataclasses.dataclass
class VariantResult:
    variant: Variant
    startup_seconds: float | None
    startup_writes: float | None
    run: throughput.RunResult | None
    rss_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.variant.name,
            "settings": self.variant.settings,
            "annotations": self.variant.annotations,
            "note": self.variant.note,
            "startup_seconds": self.startup_seconds,
            "startup_writes": self.startup_writes,
            "run": self.run.as_json() if self.run else None,
            "rss_mib": round(self.rss_bytes / 2**20, 1),
        }


async def measure_variants(
    make_environment: Callable[[str], Awaitable[Environment]],
    *,
    count: int,
    variants: tuple[Variant, ...] = VARIANTS,
    cap: float = 300.0,
) -> list[VariantResult]:
    results: list[VariantResult] = []
    for variant in variants:
        env = await make_environment(f"settings-{len(results)}")
        try:
            env.progress(f"  variant: {variant.name}")
            results.append(await _measure(env, variant, count=count, cap=cap))
        finally:
            await env.close()
    return results


async def _measure(env: Environment, variant: Variant, *, count: int, cap: float) -> VariantResult:
    namespace = await env.namespace("settings")
    template_operator = env.start_operator(namespace=namespace, label="template")
    template_operator.wait_ready()
    template = await population.Template.capture(env.kube, namespace)
    template_operator.stop()
    names = [f"s{index}" for index in range(count)]
    await population.clone_many(env.kube, template, namespace, names, progress=lambda _: None)

    env.reset_requests()
    operator = env.start_operator(
        namespace=namespace,
        label="variant",
        settings=variant.settings,
        annotations=variant.annotations,
    )
    operator.wait_ready()
    startup = await throughput.wait_handled(
        operator, servers=count + 1, timeout=cap, progress=env.progress
    )
    if startup is None:
        env.progress(f"  the operator did not handle every object within {cap:g}s")
        rss = operator.child.usage().rss_bytes
        operator.stop()
        return VariantResult(variant, None, None, None, rss)
    await env.quiesce(quiet=2.0, timeout=120)
    tally = env.exact_tally(namespace)
    startup_writes = None if tally is None else (tally.writes + tally.events) / count
    run = await throughput.delete_with_operator(
        env, namespace, names, operator=operator, label=variant.name
    )
    rss = operator.child.usage().peak_rss_bytes
    operator.stop()
    return VariantResult(variant, startup, startup_writes, run, rss)
