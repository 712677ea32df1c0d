"""Fixtures for admission tests: users of the local API server, and kubectl as each.

The API server maps bearer tokens to users and groups as a real one does with a token
file. ``root`` is a cluster administrator (``system:masters``), ``olga`` is in the group
the operator is told is an administrator group, ``alice`` is an ordinary user.
"""

import pathlib
from collections.abc import Iterator

import pytest

from serverops import definitions
from serverops.apiserver import ThreadedAPIServer
from tests.e2e.harness import Kubectl, free_port

TOKENS = {
    "root-token": ("root", ["system:masters"]),
    "olga-token": ("olga", ["ops-admins"]),
    "alice-token": ("alice", ["devs"]),
}
ADMIN_GROUP = "ops-admins"


def webhook_args(port: int) -> tuple[str, ...]:
    return (f"--webhook-port={port}", "--webhook-configure", f"--admin-group={ADMIN_GROUP}")


@pytest.fixture(scope="module")
def apiserver(workdir: pathlib.Path) -> Iterator[ThreadedAPIServer]:
    server = ThreadedAPIServer(crd_paths=definitions.crd_paths(), tokens=TOKENS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kubeconfig(apiserver: ThreadedAPIServer, workdir: pathlib.Path) -> pathlib.Path:
    """The kubeconfig of root, a cluster administrator; the operator runs with it too."""
    return apiserver.write_kubeconfig(workdir / "kubeconfig", token="root-token")


@pytest.fixture(scope="module")
def webhook_port() -> int:
    return free_port()


def kubectl_as(server: ThreadedAPIServer, workdir: pathlib.Path, user: str) -> Kubectl:
    kubeconfig = server.write_kubeconfig(workdir / f"kubeconfig-{user}", token=f"{user}-token")
    return Kubectl(kubeconfig=kubeconfig, cache_dir=workdir / f"cache-{user}")


@pytest.fixture(scope="module")
def alice(apiserver: ThreadedAPIServer, workdir: pathlib.Path) -> Kubectl:
    return kubectl_as(apiserver, workdir, "alice")


@pytest.fixture(scope="module")
def olga(apiserver: ThreadedAPIServer, workdir: pathlib.Path) -> Kubectl:
    return kubectl_as(apiserver, workdir, "olga")
