"""Helpers for end-to-end tests: the real ``serverops`` process, the real ``kubectl``.

Everything here talks to servers on 127.0.0.1 only, and every process it starts is
stopped when the test ends.
"""

import contextlib
import dataclasses
import functools
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
SERVEROPS = str(pathlib.Path(sys.executable).with_name("serverops"))

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Poll ``condition`` until it returns a truthy value, and return that value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message}; last value {last!r}")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclasses.dataclass
class Kubectl:
    """The real kubectl, pointed at one kubeconfig, with a private discovery cache."""

    kubeconfig: pathlib.Path
    cache_dir: pathlib.Path

    def run(
        self, *args: str, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        command = [
            KUBECTL,
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            *args,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed with {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def apply(self, manifest: str, *, namespace: str) -> None:
        self.run_input(manifest, "apply", "-n", namespace, "-f", "-")

    def run_input(
        self, text: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [
            KUBECTL,
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            *args,
        ]
        result = subprocess.run(command, input=text, capture_output=True, text=True, timeout=30)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed with {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result


class OperatorProcess:
    """One ``serverops run`` subprocess, with its log in a file."""

    def __init__(
        self,
        *,
        kubeconfig: pathlib.Path,
        log_path: pathlib.Path,
        extra_args: tuple[str, ...] = (),
        identity: str = "",
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.extra_args = extra_args
        self.identity = identity
        self.liveness_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 20.0, wait_ready: bool = True) -> None:
        """Start the process; by default wait until it handles objects (``/readyz``)."""
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        if self.identity:
            env["POD_ID"] = self.identity
        scoped = any(argument.startswith(("--namespace", "-n")) for argument in self.extra_args)
        command = [
            SERVEROPS,
            "run",
            *([] if scoped else ["--all-namespaces"]),
            "--standalone",
            "--verbose",
            f"--liveness=http://127.0.0.1:{self.liveness_port}/healthz",
            *self.extra_args,
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        if not wait_ready:
            wait_for(self.is_alive, timeout=timeout, message="the operator's liveness endpoint")
            return
        wait_for(self.is_ready, timeout=timeout, message="the operator's readiness endpoint")
        for argument in self.extra_args:
            if argument.startswith("--webhook-port="):
                port = int(argument.split("=", 1)[1])
                wait_for(
                    functools.partial(_accepts, port),
                    timeout=timeout,
                    message=f"the webhook on port {port}",
                )

    def is_alive(self) -> bool:
        return self._probe("/healthz")

    def is_ready(self) -> bool:
        return self._probe("/readyz")

    def _probe(self, path: str) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"The operator exited with {self.process.returncode}:\n{self.log()}"
            )
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.liveness_port}{path}", timeout=1
            ) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def kill(self) -> None:
        """SIGKILL the operator: no cleanup, no finalizer, as a crash or OOM kill would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the operator, and SIGKILL it if it is not gone within 2 seconds.

        kopf waits up to 5 seconds at exit for its own resource scans that a closing watch
        started; the operator is safe to kill at any point, so tests do not wait for them.
        """
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self, lines: int = 200) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_operator(
    *, kubeconfig: pathlib.Path, log_path: pathlib.Path, extra_args: tuple[str, ...] = ()
) -> Iterator[OperatorProcess]:
    operator = OperatorProcess(kubeconfig=kubeconfig, log_path=log_path, extra_args=extra_args)
    operator.start()
    try:
        yield operator
    finally:
        operator.stop()
        print(f"--- operator log ({log_path}) ---\n{operator.log()}")
