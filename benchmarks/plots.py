"""The PNG plots of the results page, drawn with matplotlib's Agg backend."""

from __future__ import annotations

import pathlib
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def _save(figure: Any, path: pathlib.Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def writes(flows: list[dict[str, Any]], path: pathlib.Path) -> None:
    names = [flow["flow"] for flow in flows]
    tallies = [flow["exact"] or flow["watch_observed"] for flow in flows]
    positions = range(len(names))
    figure, axes = plt.subplots(figsize=(7.5, 3.8))
    width = 0.27
    axes.bar([p - width for p in positions], [f["floor"] for f in flows], width, label="floor")
    axes.bar(positions, [t["writes"] for t in tallies], width, label="operator's writes")
    axes.bar(
        [p + width for p in positions],
        [t["events"] for t in tallies],
        width,
        label="operator's Events",
    )
    for position, flow in zip(positions, flows, strict=True):
        axes.hlines(
            flow["floor"] + 1,
            position - 1.5 * width,
            position + 1.5 * width,
            colors="black",
            linestyles="dashed",
        )
    axes.set_xticks(list(positions), names)
    axes.set_ylabel("API requests per deletion")
    axes.set_title("Writes per deletion (dashed: target, floor + 1)")
    axes.legend(fontsize=8)
    _save(figure, path)


def deletions(result: dict[str, Any], path: pathlib.Path) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    runs = [result["operator_load"], result["direct_load"]]
    left.bar(
        ["operator", "direct script"],
        [run["seconds"] for run in runs],
        color=["tab:orange", "tab:blue"],
    )
    left.set_ylabel("seconds until all are gone")
    left.set_title(f"{runs[0]['servers']:,} deletions at once (ratio {result['ratio']:.1f})")
    for label, key in (
        ("operator", "operator_load_latencies"),
        ("direct script", "direct_load_latencies"),
    ):
        values = result[key]
        fractions = [(index + 1) / len(values) for index in range(len(values))]
        right.plot(values, fractions, label=label)
    right.set_xlabel("seconds from DELETE accepted to gone")
    right.set_ylabel("fraction of deletions")
    right.set_title("Latency under load (CDF)")
    right.legend(fontsize=8)
    _save(figure, path)


def scale(points: list[dict[str, Any]], path: pathlib.Path) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    for fixed, label, marker in ((False, "as shipped", "o"), (True, "shared index wait", "s")):
        chosen = [p for p in points if p["shared_index_wait"] == fixed and p["handled_seconds"]]
        left.plot(
            [p["servers"] for p in chosen],
            [p["handled_seconds"] for p in chosen],
            marker=marker,
            label=label,
        )
        right.plot(
            [p["servers"] for p in chosen],
            [p["rss_idle_mib"] or p["rss_handled_mib"] for p in chosen],
            marker=marker,
            label=label,
        )
    left.set_xlabel("servers (each with 3 ports)")
    left.set_ylabel("seconds from start to all handled")
    left.set_title("Start-up")
    left.legend(fontsize=8)
    right.set_xlabel("servers (each with 3 ports)")
    right.set_ylabel("operator RSS, MiB")
    right.set_title("Resident memory after start-up")
    right.legend(fontsize=8)
    _save(figure, path)


def settings(variants: list[dict[str, Any]], path: pathlib.Path) -> None:
    measured = [v for v in variants if v["run"]]
    names = [v["name"] for v in measured]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.barh(
        names,
        [v["run"]["writes_per_server"] + (v["run"]["events_per_server"] or 0) for v in measured],
    )
    left.set_xlabel("writes and Events per hard delete")
    left.invert_yaxis()
    right.barh(names, [v["run"]["seconds"] for v in measured])
    right.set_xlabel(f"seconds for {measured[0]['run']['servers']} deletions at once")
    right.invert_yaxis()
    right.set_yticks([])
    _save(figure, path)
