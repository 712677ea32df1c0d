"""The public entry points: start, stop, kubeconfig, loopback only, serve_forever."""

from __future__ import annotations

import asyncio
import pathlib
import urllib.request

import pytest
import yaml

from serverops.apiserver import FakeClock, LocalAPIServer, ThreadedAPIServer, serve_forever


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_only_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        LocalAPIServer(host=host)


def test_threaded_server_and_kubeconfig(tmp_path: pathlib.Path) -> None:
    with ThreadedAPIServer() as server:
        path = server.write_kubeconfig(tmp_path / "config", context="here")
        config = yaml.safe_load(path.read_text())
        with urllib.request.urlopen(f"{server.url}/version", timeout=5) as response:
            assert response.status == 200
    assert config["current-context"] == "here"
    assert config["clusters"][0]["cluster"]["server"] == server.url
    assert server.kubeconfig_path == path


async def test_ipv6_loopback() -> None:
    async with LocalAPIServer(host="::1") as server:
        assert server.url.startswith("http://[::1]:")


async def test_serve_forever_until_cancelled(tmp_path: pathlib.Path) -> None:
    ready: asyncio.Future[LocalAPIServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_forever(kubeconfig_path=tmp_path / "config", ready=ready.set_result)
    )
    server = await asyncio.wait_for(ready, 10)
    assert (tmp_path / "config").exists()
    assert server.url.startswith("http://127.0.0.1:")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_injected_clock_sets_timestamps() -> None:
    clock = FakeClock()
    async with LocalAPIServer(clock=clock) as server:
        clock.advance(90)
        assert server.cluster is not None
        namespace = server.cluster.namespace("default")
    assert namespace is not None
    assert namespace["metadata"]["creationTimestamp"] == "2025-01-01T00:00:00Z"
