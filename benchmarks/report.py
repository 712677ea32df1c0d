"""Write ``docs/benchmarks.md`` from the results of :mod:`benchmarks.run`."""

from __future__ import annotations

import pathlib
from typing import Any

from benchmarks import plots, writes

HARD_FLOOR = writes.FLOORS["hard delete"]


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def write(results: dict[str, Any], *, output: pathlib.Path) -> None:
    figures = output.with_suffix("")
    figures.mkdir(parents=True, exist_ok=True)
    parts = results["parts"]
    sections = [_header(results)]
    sections.append(_summary(parts))
    if parts.get("writes"):
        plots.writes(parts["writes"], figures / "writes.png")
        sections.append(_writes(parts["writes"], figures.name))
    if parts.get("deletions"):
        plots.deletions(parts["deletions"], figures / "deletions.png")
        sections.append(_deletions(parts["deletions"], figures.name))
    if parts.get("scale"):
        plots.scale(parts["scale"], figures / "scale.png")
        sections.append(_scale(parts["scale"], figures.name))
    if parts.get("soft"):
        sections.append(_soft(parts["soft"]))
    if parts.get("blocked"):
        sections.append(_blocked(parts["blocked"]))
    if parts.get("settings"):
        plots.settings(parts["settings"], figures / "settings.png")
        sections.append(_settings(parts["settings"], figures.name))
    sections.append(_apiserver(parts.get("apiserver"), parts.get("deletions")))
    sections.append(_waste(parts))
    sections.append(_cluster())
    output.write_text("\n\n".join(section.strip() for section in sections) + "\n")


def _header(results: dict[str, Any]) -> str:
    m = results["machine"]
    minutes = results.get("seconds", 0) / 60
    return f"""# Benchmarks

serverops is measured against the floor: the same API work done directly, with no
operator, on the same API server in the same run. Ratios matter more than absolute
times, which drift on a shared machine.

```sh
make bench                                          # every part, about {minutes:.0f} minutes
.venv/bin/python -m benchmarks.run --quick          # small sizes, a few minutes
.venv/bin/python -m benchmarks.run --parts writes,blocked
.venv/bin/python -m benchmarks.run --kubeconfig ~/.kube/config   # a real cluster
```

The command starts the local API server (`serverops apiserver`) and the real operator
(`serverops run -A --standalone`) as child processes on 127.0.0.1, a fresh pair for each
part, and stops them when the part ends. It writes this page, the plots and the raw
results (`docs/benchmarks/results.json`); `--from-json FILE` rewrites the page from
earlier results. The code is in `benchmarks/`; each module's docstring describes what it
does. `tests/benchmarks/` runs the write counts on two servers per flow in CI.

The operator's requests are those whose user agent starts with `serverops/` (its own
client) or `kopf/`, read from the local server's request counters
(`/debug/serverops/requests`). Writes are create, update, patch and delete of anything
but Events, which are counted apart; reads are get and list. Watches are neither.

**Measured on {m["date"]}**, on {m["cluster"]}: {m["cpus"]} cores ({m["cpu_model"]}),
{m["memory_gib"]} GiB of memory, Python {m["python"]}, kopf {m["kopf"]}, aiohttp
{m["aiohttp"]}, kubectl {m["kubectl"]}. The operator, the API server and the benchmark
driver share these cores. The whole run took {minutes:.0f} minutes."""


def _flow_writes(flow: dict[str, Any]) -> float:
    tally = flow["exact"] or flow["watch_observed"]
    return float(tally["writes"])


def _summary(parts: dict[str, Any]) -> str:
    rows = []
    for flow in parts.get("writes") or []:
        tally = flow["exact"] or flow["watch_observed"]
        measured = f"writes {_fmt(tally['writes'])}, Events {_fmt(tally['events'])}"
        if tally.get("reads"):
            measured += f", reads {_fmt(tally['reads'])}"
        ok = tally["writes"] <= flow["floor"] + 1 and not tally.get("reads")
        rows.append(
            [f"{flow['flow']}: writes", f"floor {flow['floor']} + 1, no reads", measured, _met(ok)]
        )
    deletions = parts.get("deletions")
    if deletions:
        load = deletions["operator_load"]
        rows.append(
            [
                f"{load['servers']:,} deletions at once, operator ÷ direct",
                "2 or less",
                f"{deletions['ratio']:.1f} ({load['seconds']:.1f} s ÷ "
                f"{deletions['direct_load']['seconds']:.1f} s)",
                _met(deletions["ratio"] <= 2),
            ]
        )
        idle = deletions["operator_idle"]
        rows.append(
            [
                f"latency of one deletion, idle (p50 / max of {idle['servers']})",
                "none set",
                f"{idle['latency_p50'] * 1000:.0f} / {idle['latency_max'] * 1000:.0f} ms",
                "",
            ]
        )
        rows.append(
            [
                f"latency with {load['servers']:,} in flight (p50 / p99)",
                "none set",
                f"{load['latency_p50']:.1f} / {load['latency_p99']:.1f} s",
                "",
            ]
        )
    for point in parts.get("scale") or []:
        if point["idle_writes_per_minute"] is None:
            continue
        label = "as shipped" if not point["shared_index_wait"] else "shared index wait"
        rows.append(
            [
                f"writes per minute while idle, {point['servers']:,} servers ({label})",
                "0",
                _fmt(point["idle_writes_per_minute"]),
                _met(point["idle_writes_per_minute"] == 0),
            ]
        )
    blocked = parts.get("blocked")
    if blocked:
        per_hour = blocked["writes_per_hour_estimate"]
        start = blocked["hold_start_per_server"]
        rows.append(
            [
                "writes per hour of a held deletion (estimate)",
                "a few",
                f"{_fmt(per_hour)} after the {_fmt(start['writes'])} write and "
                f"{_fmt(start['events'])} Event that start the hold",
                _met(per_hour <= 3),
            ]
        )
    shipped = [p for p in parts.get("scale") or [] if not p["shared_index_wait"]]
    if shipped:
        largest = max(shipped, key=lambda p: p["servers"])
        rows.append(
            [
                f"start-up, {largest['servers']:,} servers as shipped",
                "none set",
                f"{_fmt(largest['handled_seconds'], 1)} s",
                "",
            ]
        )
    return "## Summary\n\n" + _table(["what", "target", "measured", ""], rows)


def _writes(flows: list[dict[str, Any]], figures: str) -> str:
    rows = []
    for flow in flows:
        exact = flow["exact"]
        observed = flow["watch_observed"]
        tally = exact or observed
        requests = ", ".join(f"{key} {_fmt(value)}" for key, value in tally["by_request"].items())
        rows.append(
            [
                flow["flow"],
                str(flow["floor"]),
                _fmt(tally["writes"]),
                _fmt(tally["events"]),
                _fmt(tally["reads"]) if exact else "n/a",
                _fmt(observed["writes"]) if observed else "n/a",
                requests,
            ]
        )
    count = flows[0]["servers"]
    restore = next((f for f in flows if f["flow"] == "restore"), None)
    restore_text = ""
    if restore is not None:
        over = _flow_writes(restore) - restore["floor"]
        restore_text = (
            f"\n\nThe restore makes {_fmt(over)} write above its floor: the DeletedServer's "
            "`taskState: restoring` status, sent with a resourceVersion test. It is what makes a "
            "restore and a reclaim exclusive, so it stays. See "
            "[waste](#waste-found-in-the-operator) for the writes an earlier version made."
        )
    return f"""## API writes per deletion

Each flow ran on {count} servers, each with two created ports and one attached port,
built by the operator; the table gives the operator's requests per server, from the
user's request until the operator was quiet for a second. "Watch" is the same count made
from watch events alone, as the benchmark does on a real cluster: it matches when every
write changes its object.

{_table(["flow", "floor", "writes", "Events", "reads", "watch", "requests per server"], rows)}

![Writes per deletion by flow]({figures}/writes.png)

The floor of a flow counts the writes its visible outcome needs, with nothing recorded on
the way:

- **hard delete, 4**: a DELETE per created port (2), the detach of the attached port (its
  status) and the release of the Server's finalizer. The operator's fifth write is the
  Server's `taskState: deleting` status: it records that the deletion has begun, so that
  neither a lock set afterwards nor a restart holds it again.
- **soft delete, 3**: the DeletedServer's creation, its status (`SOFT_DELETED`; the
  status subresource drops a status sent with a creation, so this takes its own write),
  and the Server's finalizer. The operator's fourth write is the Server's
  `taskState: soft-deleting` status with `reclaimAt`.
- **restore, 7**: the Server's creation, one binding per port (3), the Server's status,
  and the DeletedServer's DELETE plus its finalizer's release (it has the finalizer from
  its creation, so that a purge always runs first).
- **purge** (`kubectl delete deletedserver`), **4**: as a hard delete, with the
  DeletedServer's finalizer.
- **reclaim, 5**: the purge, plus the operator's own DELETE of the DeletedServer when
  `reclaimAt` comes.

Every Event is a write too, but it is counted apart: Events are what the operator shows
people (`SoftDeleted`, `Restored` on both objects, `Purged`), and kopf posts them in the
background.{restore_text}"""


def _deletions(result: dict[str, Any], figures: str) -> str:
    rows = []
    for key in ("operator_load", "direct_load", "operator_idle", "direct_idle"):
        run = result[key]
        rows.append(
            [
                run["label"],
                f"{run['servers']:,}",
                _fmt(run["seconds"]),
                _fmt(run["per_second"], 1),
                f"{run['latency_p50'] * 1000:,.0f}",
                f"{run['latency_p99'] * 1000:,.0f}",
                _fmt(run["operator_cpu_seconds"], 1),
                _fmt(run["apiserver_cpu_seconds"], 1),
            ]
        )
    load = result["operator_load"]
    cpu = load["operator_cpu_seconds"] or 0.0
    share = cpu / load["seconds"] if load["seconds"] else 0.0
    server_share = (load["apiserver_cpu_seconds"] or 0.0) / load["seconds"]
    startup = result.get("startup_seconds")
    return f"""## Throughput and latency of hard deletes

{load["servers"]:,} servers were deleted at once, at most 64 requests in flight, and timed
until the last one was gone (a server goes only after its ports are freed). The direct
script worked on a copy of the same population with no operator running. For each server
it sent the user's DELETE and the floor's four writes, the same requests as the operator
with the same preconditions, as fast as the API server responded with 64 in flight. Latency runs
from the DELETE's response to the server's DELETED event (operator) or to the finalizer's
release (direct); the idle rows delete {result["operator_idle"]["servers"]} servers one
after another with nothing else going on. CPU is user plus system time of each process
during the run.

{
        _table(
            [
                "run",
                "servers",
                "seconds",
                "per second",
                "p50 ms",
                "p99 ms",
                "operator CPU s",
                "API server CPU s",
            ],
            rows,
        )
    }

![Deletions at once, and latency under load]({figures}/deletions.png)

The ratio is **{result["ratio"]:.1f}** against a target of 2. The operator is CPU-bound: it
used {cpu:.1f} s of CPU in {load["seconds"]:.1f} s ({share:.0%} of one core, the most one
Python process gets), about {cpu / load["servers"] * 1000:.0f} ms per deletion, while the
API server used {server_share:.0%} of a core. The writes are at the floor plus one, so the
time goes to kopf's handling of each watch event rather than to the API. A deletion
brings about six events: the DELETE, the status write, the finalizer, two port deletions
and the detach. Each passes through kopf's per-object worker: its diff of the body, its
handler selection, the operator's lookup tables and its handlers, all on one core. Under
load every deletion waits in that queue, which is why the p50 latency under load is most
of the run's time.

The operator was started on the population before the measurement and left until it had
handled every object ({_fmt(startup, 0)} s; see [scale](#scale)), so that start-up does not
count here."""


def _fit(points: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Fit seconds = a·n² + b·n to (objects, seconds); None with fewer than 2 points."""
    measured = [(p["objects"], p["handled_seconds"]) for p in points if p["handled_seconds"]]
    if len(measured) < 2:
        return None
    import numpy

    matrix = numpy.array([[n * n, n] for n, _ in measured], dtype=float)
    values = numpy.array([seconds for _, seconds in measured], dtype=float)
    (a, b), *_ = numpy.linalg.lstsq(matrix, values, rcond=None)
    return float(a), float(b)


def _scale(points: list[dict[str, Any]], figures: str) -> str:
    rows = []
    for p in points:
        rows.append(
            [
                f"{p['servers']:,}",
                f"{p['objects']:,}",
                "shared index wait" if p["shared_index_wait"] else "as shipped",
                _fmt(p["populate_seconds"], 1),
                _fmt(p["handled_seconds"], 1)
                if p["handled_seconds"]
                else f"not within the cap ({p['handled_at_cap'][0]:,} servers handled)",
                _fmt(p["startup_cpu_seconds"], 1),
                _fmt(p["rss_handled_mib"], 0),
                _fmt(p["rss_idle_mib"], 0) if p["idle"] else "n/a",
                _fmt((p["startup"] or {}).get("writes")),
                _fmt(p["idle_writes_per_minute"]),
                _fmt(p["idle_reads_per_minute"]),
                _fmt(p["idle_cpu_seconds"], 2),
            ]
        )
    shipped = [p for p in points if not p["shared_index_wait"]]
    fixed = [p for p in points if p["shared_index_wait"]]
    estimate = ""
    fit = _fit(shipped)
    if fit is not None:
        a, b = fit
        guesses = []
        for servers in sorted({p["servers"] for p in fixed} - {p["servers"] for p in shipped}):
            objects = 4 * (servers + 1)
            guesses.append(
                f"{servers:,} servers about {(a * objects**2 + b * objects) / 60:,.0f} min"
            )
        if guesses:
            estimate = (
                "Fitted to seconds = a·n² + b·n over the as-shipped points (n objects), the "
                f"start-up would take, as an estimate: {'; '.join(guesses)}. These sizes are "
                "not run as shipped, since the run would take that long."
            )
    per_server = ""
    grown = shipped if len(shipped) >= 2 else fixed
    if len(grown) >= 2:
        low, high = min(grown, key=lambda p: p["servers"]), max(grown, key=lambda p: p["servers"])
        grow = (high["rss_idle_mib"] - low["rss_idle_mib"]) / (high["servers"] - low["servers"])
        per_server = (
            f" Memory grows by about {grow * 1024:.0f} KiB per server with its three ports "
            f"({low['servers']:,} to {high['servers']:,} servers): kopf keeps, per object, the "
            "last body, the lookup tables' entries, the handler memories and the diff base."
        )
    return f"""## Scale

Each point starts a fresh API server with that many complete servers (each with its
finalizer, status, two created ports and one attached port, all bound, written directly
from a copy of one that the operator built, plus that one), then starts the operator.
**Handled** means the operator has logged the success of its creation handler for every
Server (`reconcile`) and every Port (`status`): after a start it runs each once, finds
the work done, and writes nothing. Memory is the operator's resident set (`VmRSS` in
`/proc`) once everything was handled, and after the idle window. The idle window starts
6 s after handling, once kopf's per-object workers have gone idle.

{
        _table(
            [
                "servers",
                "objects",
                "operator",
                "populate s",
                "start to handled s",
                "CPU s",
                "RSS handled MiB",
                "RSS idle MiB",
                "writes at start",
                "idle writes/min",
                "idle reads/min",
                "idle CPU s",
            ],
            rows,
        )
    }

![Start-up time and memory by population]({figures}/scale.png)

**Start-up grows linearly with the objects.** The operator fills its lookup tables of
ports and servers from one list of each kind at start and then from the watch
(`operator/serverops/lookups.py`). It used kopf indexes before, and kopf 1.45 makes every
object's worker wait, before its first handler, until the indexes of every object of the
initial listing are filled: each object adds and then drops a toggle in one shared set
(`ToggleSet` in `kopf/_cogs/aiokits/aiotoggles.py`, awaited in
`kopf/_core/reactor/processing.py`), and each add and drop wakes every waiting worker, so
N objects cost on the order of N² wake-ups. cProfile of that operator starting on 500
servers counted 1.75 million of them, and an earlier run of this benchmark measured 5, 22
and 99 s for 250, 500 and 1,000 servers. {estimate}{per_server}

While idle the operator sends no write and no read. Its watches stay open, because kopf
sets no `timeoutSeconds` and the server's default decides: 30 minutes on the local
server, 30 to 60 on kube-apiserver. Each reconnect is one watch request per kind, resumed
from the last resourceVersion without a new listing."""


def _soft(result: dict[str, Any]) -> str:
    def stats(values: list[float], unit: float = 1000) -> str:
        ordered = sorted(values)
        return f"{ordered[len(ordered) // 2] * unit:.0f} / {ordered[-1] * unit:.0f}"

    logged = result["reclaim_logged"]
    metric = result["reclaim_metric_mean"]
    return f"""## Soft delete, restore and reclaim

{len(result["kubectl_soft"])} servers with a one-hour reclaim interval and as many without
were deleted one at a time with the real `kubectl delete server NAME`, which waits until
the server is gone; the time includes kubectl's own start (its discovery cache was warm).

{
        _table(
            ["what", "median / max, ms"],
            [
                ["`kubectl delete`, soft delete (interval 1h)", stats(result["kubectl_soft"])],
                ["`kubectl delete`, hard delete (for comparison)", stats(result["kubectl_hard"])],
                [
                    "restore: annotation set until the Server is ACTIVE and the DeletedServer gone",
                    stats(result["restore"]),
                ],
            ],
        )
    }

A soft delete returns as fast as a hard delete: the Server goes as soon as its record
exists, and kubectl's own start is most of the time.

Reclaim: {len(logged)} servers with a {result["reclaim_interval"]} s interval. The operator
logged the reclaims between {min(logged, default=0):.1f} and {max(logged, default=0):.1f} s
after `reclaimAt` (its log line has one decimal), and its `serverops_reclaim_delay_seconds`
histogram averaged {_fmt(metric * 1000 if metric is not None else None, 0)} ms. The operator never
reclaims before `reclaimAt`; `reclaimAt` itself has the one-second resolution of
`deletionTimestamp`."""


def _blocked(result: dict[str, Any]) -> str:
    start = result["hold_start_per_server"]
    holding = result["holding_per_server"]
    touched = result["touched_per_server"]
    release = result["release_per_server"]
    wakeups = result["window_seconds"] / result["keepalive_seconds"]
    rows = [
        [
            "the hold begins",
            _fmt(start["writes"]),
            _fmt(start["events"]),
            ", ".join(start["by_request"]) or "none",
        ],
        [
            f"held for {result['window_seconds']:.0f} s ({wakeups:.0f} of kopf's wake-ups)",
            _fmt(holding["writes"]),
            _fmt(holding["events"]),
            ", ".join(holding["by_request"]) or "none",
        ],
        [
            f"{result['touches']} annotation changes on the held server",
            _fmt(touched["writes"]),
            _fmt(touched["events"]),
            ", ".join(touched["by_request"]) or "none",
        ],
        [
            "unlocked: the deletion finishes",
            _fmt(release["writes"]),
            _fmt(release["events"]),
            ", ".join(release["by_request"]) or "none",
        ],
    ]
    return f"""## Blocked deletions

{result["servers"]} locked servers were deleted and held. kopf wakes a held handler up at
least every 10 minutes (its cap on one sleep). For the measurement the operator ran with
that cap at {result["keepalive_seconds"]:g} s (`SERVEROPS_BENCH_KEEPALIVE`, set by
`benchmarks/launch.py` only), so that a {result["window_seconds"]:.0f} s window covers
{wakeups:.0f} wake-ups instead of one per 10 minutes. Per held server:

{_table(["phase", "writes", "Events", "requests"], rows)}

**Estimate for an hour:** 6 wake-ups cost {_fmt(holding["writes"] / wakeups * 6)} writes,
since each costs {_fmt(holding["writes"] / wakeups)}; every change of the held server costs
{_fmt(touched["writes"] / result["touches"])}, however many there are. So a held deletion
costs {_fmt(result["writes_per_hour_estimate"])} writes per hour after the one status write
and one Event that start it. The reason is in `serverops/storages.py`. A held handler
waits "until the next event" with a delay above kopf's cap, so kopf's wake-up finds
nothing to write. A change of the server re-runs the handler, which finds the same hold
already recorded and writes nothing."""


def _settings(variants: list[dict[str, Any]], figures: str) -> str:
    rows = []
    for v in variants:
        run = v["run"]
        if run is None:
            rows.append(
                [v["name"], "did not finish start-up", "", "", "", "", _fmt(v["rss_mib"], 0)]
            )
            continue
        rows.append(
            [
                v["name"],
                _fmt(v["startup_seconds"], 1),
                _fmt(v["startup_writes"]),
                _fmt(run["writes_per_server"]),
                _fmt(run["events_per_server"]),
                _fmt(run["seconds"], 1),
                _fmt(v["rss_mib"], 0),
            ]
        )
    count = next((v["run"]["servers"] for v in variants if v["run"]), 0)
    by_name = {v["name"]: v for v in variants}
    base = by_name.get("serverops as shipped")

    def extra(name: str, field: str) -> str:
        variant = by_name.get(name)
        if base is None or base["run"] is None or variant is None or variant["run"] is None:
            return "n/a"
        return _fmt(variant["run"][field] - base["run"][field])

    def startup(name: str) -> str:
        variant = by_name.get(name)
        return "n/a" if variant is None else _fmt(variant["startup_writes"])

    def seconds(name: str) -> str:
        variant = by_name.get(name)
        if variant is None or variant["run"] is None:
            return "n/a"
        return _fmt(variant["run"]["seconds"], 1)

    def handled(name: str) -> str:
        variant = by_name.get(name)
        return "n/a" if variant is None else _fmt(variant["startup_seconds"], 1)

    return f"""## kopf's settings

Each variant changes one setting of the shipped operator (through `benchmarks/launch.py`,
for the measurement only), starts on {count} complete servers and deletes them all at
once.

{
        _table(
            [
                "variant",
                "start to handled s",
                "writes+Events per server at start",
                "writes per delete",
                "Events per delete",
                f"{count} deletes s",
                "peak RSS MiB",
            ],
            rows,
        )
    }

![kopf settings]({figures}/settings.png)

- **Handler progress and last handled spec** (`settings.persistence`): kopf's annotation
  storages cost {startup("kopf's annotation storages")} writes per server at every start
  (the last handled spec on every object) and
  {extra("kopf's annotation storages", "writes_per_server")} more per hard delete; the
  memory storages of `serverops/storages.py` cost none and stay.
  They keep crash safety because every handler reads the state it acts on, and the
  crash-safety tests kill the operator at every write.
- **Log lines as Events** (`settings.posting.loggers`): every INFO line about an object
  becomes an Event: {startup("log lines posted as Events")} per server (with its three
  ports) at start and {extra("log lines posted as Events", "events_per_server")} per
  deletion, a lower bound, since kopf posts them from a background queue that was still
  draining when the count ended. It stays
  off; the operator posts its own Events for what a person must see.
- **`settings.queueing.worker_limit`**: a limit of 100 made the start-up take
  {handled("worker_limit 100")} s instead of {handled("serverops as shipped")} s, and the
  deletions {seconds("worker_limit 100")} s instead of {seconds("serverops as shipped")} s.
  kopf keeps an object's worker until it has been idle for `idle_timeout` (5 s), so when
  there are more objects than workers (here about {4 * count:,}, the servers and their
  ports), each new object waits for a worker to sit out those seconds. Memory fell by
  less than a fifth. It stays unset (no limit).
- **`settings.queueing.idle_timeout`** (5 s): neither 1 s nor 60 s changed the writes or
  the memory. The deletions took {seconds("idle_timeout 1 s")} s with 1 s and
  {seconds("idle_timeout 60 s")} s with 60 s, against {seconds("serverops as shipped")} s
  with 5 s. One run per variant cannot tell such differences from noise on this machine.
  Two more runs of this part on 2026-12-04 took 3.9 and 3.0 s as shipped, 3.1 and 3.2 s
  with 1 s, and 4.0 and 3.8 s with 60 s. No change pays for itself, so it stays at kopf's
  default.
- **`settings.batching.batch_window`**: kopf 1.45 removed time-based batching; the
  setting is deprecated and does nothing (`kopf/_cogs/configs/configuration.py`), so
  there is nothing to choose.
- **Watches** (`settings.watching`): with no timeout set, a watch lasts as long as the API
  server lets it, and each reconnect resumes from the last resourceVersion: one request
  per kind every 30 minutes or more, no writes. The defaults stay."""


def _apiserver(steps: list[dict[str, Any]] | None, deletions: dict[str, Any] | None) -> str:
    text = """## The local API server

The API server must not be the bottleneck that hides the operator's cost."""
    if deletions:
        load = deletions["operator_load"]
        direct = deletions["direct_load"]
        text += f"""
During the operator's {load["servers"]:,} deletions it used
{(load["apiserver_cpu_seconds"] or 0) / load["seconds"]:.0%} of a core; during the direct
script's, {(direct["apiserver_cpu_seconds"] or 0) / direct["seconds"]:.0%}, for
{direct["servers"] * 5 / direct["seconds"]:,.0f} requests per second (the user's DELETE and
the four floor writes per server). It was not the limit in either run: the operator's
CPU limits the first, and the driver's (one Python process) the second."""
    if steps:
        rows = [
            [s["step"], f"{s['count']:,}", _fmt(s["seconds"]), _fmt(s["per_second"], 0)]
            for s in steps
        ]
        text += f"""

Its own throughput, from `tests/apiserver/benchmark.py --subprocess` (three watchers on
Servers, 64 requests in flight, the server in its own process):

{_table(["step", "objects", "seconds", "per second"], rows)}"""
    return text


def _waste(parts: dict[str, Any]) -> str:
    text = """## Waste found in the operator

Each finding states what was changed here and what is only proposed. A proposal needs a
larger change of the operator or of kopf."""
    restore = next((f for f in parts.get("writes") or [] if f["flow"] == "restore"), None)
    if restore is not None:
        tally = restore["exact"] or restore["watch_observed"]
        text += f"""

**Restore: changed, now {_fmt(tally["writes"])} writes and {_fmt(tally["reads"] or 0)} reads
against a floor of {restore["floor"]}.** The first version made 10 writes and one read. It
also wrote `restoredAs` to the DeletedServer's status just before deleting it. It removed
the `restored-from` annotation from the Server once the ports were bound, and it read the
DeletedServer with a GET. Now the Server's own status write records `restoredFrom`, which
the purge that follows reads to free nothing. The annotation stays as the mark of where
the Server came from, and the DeletedServer comes from the operator's lookup table."""
    deletions = parts.get("deletions")
    if deletions:
        load = deletions["operator_load"]
        cpu = (load["operator_cpu_seconds"] or 0) / load["servers"] * 1000
        text += f"""

**Throughput: about {cpu:.0f} ms of the operator's CPU per hard delete**, for 5 writes that
the API server handles in well under a millisecond each. It was 10 ms. A profile of the
operator during the 1,000 deletions (py-spy, sampling the live process) showed about 40%
of its CPU in worker threads, where aiohttp read the proxy variables and `~/.netrc` again
for every request. That happens because kubernetes_asyncio opens its session with
`trust_env=True`. The operator now reads the proxy variables once, at start
(`serverops/kubeapi.py`). What is left is mostly kopf's handling of the watch events a
deletion causes (its per-object worker, cause detection and handler invocation) in one
process. Proposed, in order of expected gain:

- run several operator processes, each serving its own namespaces
  (`--namespace`), so that the handling spreads over more cores;
- log one INFO line per deletion instead of one per step (five per hard delete today),
  moving the per-port lines to DEBUG."""
    shipped = [p for p in parts.get("scale") or [] if not p["shared_index_wait"]]
    if shipped:
        largest = max(shipped, key=lambda p: p["servers"])
        text += f"""

**Start-up: linear** ({_fmt(largest["handled_seconds"], 0)} s for
{largest["servers"]:,} servers; see [scale](#scale)). The first version used kopf indexes,
and kopf 1.45 makes every indexed object wait on the readiness flag of every other one, which
made start-up grow with the square of the population (99 s for 1,000 servers). The
operator now fills its own lookup tables from one LIST per kind before the watches start.
Proposed: report the shared wait in `ToggleSet.wait_for` to kopf upstream."""
    return text


def _cluster() -> str:
    return """## On a real cluster

`--kubeconfig PATH` runs the same parts against that cluster. The operator still runs as
a local process (`serverops run --namespace NS --standalone`), serving only the part's own
namespace, so no other operator may serve that namespace. The CRDs must be installed
(`kubectl apply -f crds/`), and the user needs to create and delete namespaces, the
operator's kinds and Events. What differs:

- There are no request counters. Writes are counted from watches on the namespace's
  Servers, Ports, DeletedServers and the operator's Events (`WatchTally` in
  `benchmarks/counting.py`), less the benchmark's own writes. Reads and writes that change
  nothing are not seen, so the reads column reads "n/a"; on the local server the two
  counts agree for every flow (the "watch" column above).
- The API server's CPU is not measured, and the API server part is skipped.
- At the end, each namespace is deleted after the finalizers of its Servers and
  DeletedServers are removed, so nothing is left Terminating.

This mode has not been run against a real cluster yet: none is reachable from the
machine the numbers above come from."""
