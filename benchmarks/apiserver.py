"""The local API server's own throughput, from ``tests/apiserver/benchmark.py``.

That script runs the server in a child process, three watchers on Servers, and an aiohttp
client with 64 requests in flight; its timings are the server's own cost plus the
client's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

from benchmarks.processes import ROOT

_LINE = re.compile(r"^(?P<step>[a-z ]+?) (?P<count>\d+): (?P<seconds>[0-9.]+)s$")


def measure(count: int) -> list[dict[str, Any]]:
    """Run the script with ``count`` Servers; return each step's count and seconds."""
    output = subprocess.run(
        [sys.executable, "-m", "tests.apiserver.benchmark", str(count), "--subprocess"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    steps = []
    for line in output.splitlines():
        match = _LINE.match(line.strip())
        if match is not None:
            seconds = float(match["seconds"])
            number = int(match["count"])
            steps.append(
                {
                    "step": match["step"],
                    "count": number,
                    "seconds": seconds,
                    "per_second": round(number / seconds, 1) if seconds else None,
                }
            )
    return steps
