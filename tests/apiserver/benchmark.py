"""
Throughput of the local API server with the project's CRDs.

Run ``.venv/bin/python -m tests.apiserver.benchmark [COUNT]`` from the repository root.
It starts a server and, in the same event loop, three watchers and an aiohttp client
that creates COUNT Servers (10,000 by default), lists them, patches their status, and
deletes 1,000 of them with a finalizer removal each. The times include the client's
own cost. It is not collected by pytest.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp

from serverops.apiserver import LocalAPIServer
from tests.kube import ROOT

SERVERS = "/apis/compute.serverops.io/v1alpha1/namespaces/default/servers"
CONCURRENCY = 64
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def server_body(index: int) -> dict[str, object]:
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


async def watch(session: aiohttp.ClientSession, counts: list[int], index: int) -> None:
    params = {"watch": "true", "allowWatchBookmarks": "true"}
    timeout = aiohttp.ClientTimeout(total=None)
    async with session.get(SERVERS, params=params, timeout=timeout) as response:
        async for _ in response.content:
            counts[index] += 1


async def timed(label: str, work: object) -> None:
    started = time.perf_counter()
    await work  # type: ignore[misc]
    print(f"{label}: {time.perf_counter() - started:.2f}s")


async def run(count: int) -> None:
    crds = [ROOT / "crds" / "server.yaml", ROOT / "crds" / "port.yaml"]
    limit = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with (
        LocalAPIServer(crd_paths=crds) as server,
        aiohttp.ClientSession(base_url=server.url, connector=connector) as session,
    ):
        counts = [0, 0, 0]
        watchers = [asyncio.create_task(watch(session, counts, index)) for index in range(3)]

        async def create(index: int) -> None:
            async with limit, session.post(SERVERS, json=server_body(index)) as response:
                assert response.status == 201, await response.text()

        async def patch_status(index: int) -> None:
            body = {"status": {"status": "ACTIVE"}}
            async with (
                limit,
                session.patch(
                    f"{SERVERS}/s{index}/status", json=body, headers=MERGE_PATCH
                ) as response,
            ):
                assert response.status == 200, await response.text()

        async def delete(index: int) -> None:
            async with limit:
                async with session.delete(f"{SERVERS}/s{index}") as response:
                    assert response.status == 200, await response.text()
                body = {"metadata": {"finalizers": None}}
                async with session.patch(
                    f"{SERVERS}/s{index}", json=body, headers=MERGE_PATCH
                ) as response:
                    assert response.status == 200, await response.text()

        await timed(f"create {count}", asyncio.gather(*(create(i) for i in range(count))))

        async def list_all() -> None:
            async with session.get(SERVERS) as response:
                assert len((await response.json())["items"]) == count

        await timed(f"list {count}", list_all())
        await timed(
            f"patch status {count}", asyncio.gather(*(patch_status(i) for i in range(count)))
        )
        await timed(
            "delete and finalize 1000",
            asyncio.gather(*(delete(i) for i in range(min(count, 1000)))),
        )
        await asyncio.sleep(0.5)
        for watcher in watchers:
            watcher.cancel()
        print(f"watch events per watcher: {counts}, requests: {server.stats.total}")


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
