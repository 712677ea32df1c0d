"""Where a benchmark runs: a fresh local API server, or a real cluster from a kubeconfig.

On the local API server every request of the operator is counted exactly. On a real
cluster the benchmark cannot see the API server's requests; it counts the changes the
operator's writes leave in a watch instead (:class:`benchmarks.counting.WatchTally`),
works in a namespace of its own and deletes it at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import counting, processes
from benchmarks.kube import FINALIZER, Kube

Progress = Callable[[str], None]

_namespaces = itertools.count(1)


class Environment:
    """One API server (local or real), the benchmark's client of it, and its operators."""

    def __init__(
        self,
        *,
        workdir: pathlib.Path,
        kubeconfig: pathlib.Path,
        apiserver: processes.LocalAPIServer | None,
        kube: Kube,
        progress: Progress,
    ) -> None:
        self.workdir = workdir
        self.kubeconfig = kubeconfig
        self.apiserver = apiserver
        self.kube = kube
        self.progress = progress
        self.namespaces: list[str] = []
        self.operators: list[processes.Operator] = []

    @property
    def local(self) -> bool:
        return self.apiserver is not None

    @classmethod
    async def start(
        cls,
        *,
        workdir: pathlib.Path,
        kubeconfig: pathlib.Path | None,
        progress: Progress,
        concurrency: int = 64,
    ) -> Environment:
        workdir.mkdir(parents=True, exist_ok=True)
        apiserver = None
        if kubeconfig is None:
            apiserver = processes.LocalAPIServer(workdir)
            kubeconfig = apiserver.kubeconfig
        kube = await Kube.connect(str(kubeconfig), concurrency=concurrency)
        return cls(
            workdir=workdir,
            kubeconfig=kubeconfig,
            apiserver=apiserver,
            kube=kube,
            progress=progress,
        )

    async def namespace(self, prefix: str) -> str:
        name = f"bench-{prefix}-{int(time.time()) % 100000}-{next(_namespaces)}"
        await self.kube.ensure_namespace(name)
        self.namespaces.append(name)
        return name

    def start_operator(
        self,
        *,
        namespace: str,
        extra_args: Sequence[str] = (),
        keepalive: float | None = None,
        metrics_port: int = 0,
        label: str = "operator",
        profile: pathlib.Path | None = None,
        shared_index_wait: bool = False,
        settings: dict[str, Any] | None = None,
        annotations: bool = False,
    ) -> processes.Operator:
        """Start an operator: for all namespaces locally, for ``namespace`` on a cluster."""
        operator = processes.Operator(
            kubeconfig=self.kubeconfig,
            log_path=self.workdir / f"{label}-{len(self.operators)}.log",
            namespace="" if self.local else namespace,
            extra_args=extra_args,
            keepalive=keepalive,
            metrics_port=metrics_port,
            profile=profile,
            shared_index_wait=shared_index_wait,
            settings=settings,
            annotations=annotations,
        )
        self.operators.append(operator)
        return operator

    def requests(self) -> list[dict[str, Any]] | None:
        return self.apiserver.requests() if self.apiserver is not None else None

    def reset_requests(self) -> None:
        if self.apiserver is not None:
            self.apiserver.reset()

    def exact_tally(self, namespace: str = "") -> counting.Tally | None:
        records = self.requests()
        return None if records is None else counting.tally_requests(records, namespace=namespace)

    async def quiesce(
        self,
        *,
        quiet: float = 1.0,
        timeout: float = 60.0,
        watcher: counting.WatchTally | None = None,
    ) -> None:
        """Wait until the operator has sent no request (or, on a cluster, caused no
        change) for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        last: tuple[float, ...] | None = None
        since = time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if self.apiserver is not None:
                tally = self.exact_tally()
                assert tally is not None
                now = (tally.writes, tally.events, tally.reads)
                if now != last:
                    last, since = now, time.monotonic()
                elif time.monotonic() - since >= quiet:
                    return
            elif watcher is not None and time.monotonic() - watcher.last_change >= quiet:
                return
            elif watcher is None:
                await asyncio.sleep(quiet)
                return
        raise TimeoutError(f"The operator did not go quiet within {timeout:g}s.")

    async def close(self) -> None:
        for operator in self.operators:
            operator.stop()
        if self.apiserver is None:
            for namespace in self.namespaces:
                await _remove_namespace(self.kube, namespace, self.progress)
        await self.kube.close()
        if self.apiserver is not None:
            self.apiserver.stop()


async def _remove_namespace(kube: Kube, namespace: str, progress: Progress) -> None:
    """Delete a benchmark namespace on a cluster, with the operator stopped: drop the
    finalizers first so that nothing stays Terminating."""
    progress(f"  removing namespace {namespace}")
    for plural in ("servers", "deletedservers"):
        for item in await kube.list(plural, namespace):
            if FINALIZER in (item["metadata"].get("finalizers") or []):
                await kube.patch(
                    plural, namespace, item["metadata"]["name"], {"metadata": {"finalizers": None}}
                )
    await kube.request("DELETE", f"api/v1/namespaces/{namespace}", ok=(200, 202, 404))
