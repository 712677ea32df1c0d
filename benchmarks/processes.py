"""The processes a benchmark runs: the local API server and the operator, both on loopback.

Each is a child process that the benchmark stops when it is done (SIGTERM, then SIGKILL
after a grace period), so no run leaves a process behind. CPU time and memory come from
``/proc``, so they work on Linux only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

BIN = pathlib.Path(sys.executable).parent
ROOT = pathlib.Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Any, *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"Timed out after {timeout:g}s waiting for {what}.")


def http_ok(url: str, *, method: str = "GET") -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=2) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@dataclasses.dataclass(frozen=True)
class Usage:
    """CPU seconds (user plus system) and resident memory of one process."""

    cpu_seconds: float
    rss_bytes: int
    peak_rss_bytes: int


def usage_of(pid: int) -> Usage:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of stat(5), utime and stime, are at 11 and 12 after the name.
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    rss = peak = 0
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return Usage(cpu_seconds=cpu, rss_bytes=rss, peak_rss_bytes=peak)


class Child:
    """A child process with its output in a log file."""

    def __init__(self, command: Sequence[str], *, log_path: pathlib.Path, env: dict[str, str]):
        self.command = list(command)
        self.log_path = log_path
        log = log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])
            raise RuntimeError(f"{self.command[0]} exited with {self.process.returncode}:\n{tail}")

    def usage(self) -> Usage:
        return usage_of(self.pid)

    def stop(self, *, grace: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class LocalAPIServer:
    """``serverops apiserver`` in a child process, with its request counters over HTTP."""

    def __init__(self, workdir: pathlib.Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.kubeconfig = workdir / "kubeconfig"
        self.kubeconfig.unlink(missing_ok=True)
        command = [
            str(BIN / "serverops"),
            "apiserver",
            f"--port={self.port}",
            f"--kubeconfig={self.kubeconfig}",
        ]
        self.child = Child(command, log_path=workdir / "apiserver.log", env=dict(os.environ))

        def ready() -> bool:
            self.child.check_alive()
            return self.kubeconfig.exists() and http_ok(f"{self.url}/readyz")

        wait_until(ready, timeout=30, what="the local API server")

    def requests(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/debug/serverops/requests", timeout=30) as r:
            listed: list[dict[str, Any]] = orjson.loads(r.read())["requests"]
            return listed

    def reset(self) -> None:
        http_ok(f"{self.url}/debug/serverops/requests", method="DELETE")

    def stop(self) -> None:
        self.child.stop()


class Operator:
    """``serverops run`` in a child process, ready once its ``/readyz`` answers.

    It starts through :mod:`benchmarks.launch`, whose benchmark-only changes to kopf
    ``keepalive``, ``shared_index_wait``, ``settings`` and ``annotations`` turn on.
    ``profile`` runs it under cProfile, which writes its statistics to that file when
    the operator stops.
    """

    def __init__(
        self,
        *,
        kubeconfig: pathlib.Path,
        log_path: pathlib.Path,
        namespace: str = "",
        extra_args: Sequence[str] = (),
        keepalive: float | None = None,
        metrics_port: int = 0,
        profile: pathlib.Path | None = None,
        shared_index_wait: bool = False,
        settings: dict[str, Any] | None = None,
        annotations: bool = False,
    ) -> None:
        self.health_port = free_port()
        self.metrics_port = metrics_port
        # The launcher is a module of this repository, found through PYTHONPATH.
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, KUBECONFIG=str(kubeconfig), PYTHONPATH=path)
        if keepalive is not None:
            env["SERVEROPS_BENCH_KEEPALIVE"] = str(keepalive)
        if shared_index_wait:
            env["SERVEROPS_BENCH_SHARED_INDEX_WAIT"] = "1"
        if settings:
            env["SERVEROPS_BENCH_SETTINGS"] = orjson.dumps(settings).decode()
        if annotations:
            env["SERVEROPS_BENCH_STORAGE"] = "annotations"
        scope = [f"--namespace={namespace}"] if namespace else ["--all-namespaces"]
        command = [
            sys.executable,
            *(["-m", "cProfile", "-o", str(profile)] if profile else []),
            "-m",
            "benchmarks.launch",
            "run",
            *scope,
            "--standalone",
            "--log-format=full",
            f"--liveness=http://127.0.0.1:{self.health_port}/healthz",
            *([f"--metrics-port={metrics_port}"] if metrics_port else []),
            *extra_args,
        ]
        self.started = time.monotonic()
        self.child = Child(command, log_path=log_path, env=env)

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Wait for readiness; return the seconds since the process started."""

        def ready() -> bool:
            self.child.check_alive()
            return http_ok(f"http://127.0.0.1:{self.health_port}/readyz")

        wait_until(ready, timeout=timeout, what="the operator's readiness")
        return time.monotonic() - self.started

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    def handled(self) -> tuple[int, int, str]:
        """Count kopf's log lines that say the creation handler of a Server
        (``reconcile``) and of a Port (``status``) succeeded; return both counts and
        the timestamp of the last such line.

        After a start, kopf runs these handlers once for every object (the operator keeps
        no record of earlier runs), so the counts reach the number of objects once every
        object has been handled.
        """
        servers = ports = 0
        last = ""
        with self.child.log_path.open(errors="replace") as log:
            for line in log:
                if "Handler 'reconcile' succeeded" in line:
                    servers += 1
                elif "Handler 'status' succeeded" in line:
                    ports += 1
                else:
                    continue
                last = line[1:24]
        return servers, ports, last

    def log_lines(self) -> list[str]:
        return self.child.log_path.read_text(errors="replace").splitlines()

    def stop(self) -> None:
        self.child.stop()


@contextlib.contextmanager
def stopping(*processes: Any) -> Iterator[None]:
    try:
        yield
    finally:
        for process in reversed(processes):
            if process is not None:
                process.stop()
