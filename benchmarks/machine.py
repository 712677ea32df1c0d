"""The facts about the machine and software that every measured number depends on."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import subprocess
from typing import Any


def describe(*, cluster: str) -> dict[str, Any]:
    model = ""
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        kubectl = subprocess.run(
            ["kubectl", "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
        kubectl_version = json.loads(kubectl)["clientVersion"]["gitVersion"]
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        kubectl_version = "unknown"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor() or "unknown",
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "kopf": importlib.metadata.version("kopf"),
        "aiohttp": importlib.metadata.version("aiohttp"),
        "kubectl": kubectl_version,
        "cluster": cluster,
    }


def _memory_gib() -> float:
    meminfo = pathlib.Path("/proc/meminfo")
    if not meminfo.exists():
        return 0.0
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return 0.0
