"""
Throughput of the local API server with the project's CRDs.

Run ``.venv/bin/python -m tests.apiserver.benchmark [COUNT] [--subprocess]`` from the
repository root. Three watchers stream every change of Servers while an aiohttp client
creates COUNT Servers (10,000 by default), lists them, patches their status, and
deletes 1,000 of them with a finalizer removal each, 64 requests at a time. By default
the server runs in the client's event loop, so the times include the client's cost;
with ``--subprocess`` it runs in a child process. pytest does not collect this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp

from serverops.apiserver import LocalAPIServer, serve_forever
from tests.kube import ROOT

SERVERS = "/apis/compute.serverops.io/v1alpha1/namespaces/default/servers"
CONCURRENCY = 64
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
CRDS = [ROOT / "crds" / "server.yaml", ROOT / "crds" / "port.yaml"]


def server_body(index: int) -> dict[str, Any]:
    return {
        "apiVersion": "compute.serverops.io/v1alpha1",
        "kind": "Server",
        "metadata": {
            "name": f"s{index}",
            "finalizers": ["compute.serverops.io/benchmark"],
            "labels": {"shard": str(index % 10)},
        },
        "spec": {"flavor": "m1.small", "image": "cirros", "networks": [{"network": "lan"}]},
    }


def _serve_in_child(urls: Any) -> None:
    asyncio.run(serve_forever(crd_paths=CRDS, ready=lambda server: urls.put(server.url)))


@contextlib.asynccontextmanager
async def running_server(subprocess: bool) -> AsyncIterator[str]:
    """Start a server in this loop or in a child process; yield its URL."""
    if not subprocess:
        async with LocalAPIServer(crd_paths=CRDS) as server:
            yield server.url
        return
    urls: Any = multiprocessing.Queue()
    child = multiprocessing.Process(target=_serve_in_child, args=(urls,), daemon=True)
    child.start()
    try:
        yield await asyncio.to_thread(urls.get, True, 30)
    finally:
        child.terminate()
        child.join(10)


async def watch(session: aiohttp.ClientSession, counts: list[int], index: int) -> None:
    params = {"watch": "true", "allowWatchBookmarks": "true"}
    timeout = aiohttp.ClientTimeout(total=None)
    async with session.get(SERVERS, params=params, timeout=timeout) as response:
        async for _ in response.content:
            counts[index] += 1


async def timed(label: str, work: Awaitable[Any]) -> None:
    started = time.perf_counter()
    await work
    print(f"{label}: {time.perf_counter() - started:.2f}s")


class Client:
    """The benchmark's requests, at most :data:`CONCURRENCY` at a time."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.limit = asyncio.Semaphore(CONCURRENCY)

    async def create(self, index: int) -> None:
        async with self.limit, self.session.post(SERVERS, json=server_body(index)) as response:
            assert response.status == 201, await response.text()

    async def list_all(self, count: int) -> None:
        async with self.session.get(SERVERS) as response:
            assert len((await response.json())["items"]) == count

    async def patch_status(self, index: int) -> None:
        body = {"status": {"status": "ACTIVE"}}
        path = f"{SERVERS}/s{index}/status"
        async with self.limit, self.session.patch(path, json=body, headers=MERGE_PATCH) as response:
            assert response.status == 200, await response.text()

    async def delete(self, index: int) -> None:
        path = f"{SERVERS}/s{index}"
        async with self.limit:
            async with self.session.delete(path) as response:
                assert response.status == 200, await response.text()
            body = {"metadata": {"finalizers": None}}
            async with self.session.patch(path, json=body, headers=MERGE_PATCH) as response:
                assert response.status == 200, await response.text()


async def run(count: int, *, subprocess: bool) -> None:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY + 3)
    async with (
        running_server(subprocess) as url,
        aiohttp.ClientSession(base_url=url, connector=connector) as session,
    ):
        counts = [0, 0, 0]
        watchers = [asyncio.create_task(watch(session, counts, index)) for index in range(3)]
        client = Client(session)
        deleted = min(count, 1000)
        await timed(f"create {count}", asyncio.gather(*(client.create(i) for i in range(count))))
        await timed(f"list {count}", client.list_all(count))
        patches = asyncio.gather(*(client.patch_status(i) for i in range(count)))
        await timed(f"patch status {count}", patches)
        deletions = asyncio.gather(*(client.delete(i) for i in range(deleted)))
        await timed(f"delete and finalize {deleted}", deletions)
        await asyncio.sleep(0.5)
        for watcher in watchers:
            watcher.cancel()
        print(f"watch events per watcher: {counts}")


if __name__ == "__main__":
    arguments = [argument for argument in sys.argv[1:] if not argument.startswith("--")]
    asyncio.run(
        run(int(arguments[0]) if arguments else 10_000, subprocess="--subprocess" in sys.argv)
    )
