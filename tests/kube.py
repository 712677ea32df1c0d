"""
Pytest fixtures that run the local Kubernetes API server for a test.

Import them into a ``conftest.py`` (``from tests.kube import crd_paths,
local_apiserver, threaded_apiserver``). ``local_apiserver`` runs in the test's event
loop, for async tests. ``threaded_apiserver`` runs in a background thread, for sync
tests that call kubectl or the blocking ``kubernetes`` client. Both apply the CRD
manifests that the ``crd_paths`` fixture returns (none unless a test module overrides
it), write a kubeconfig (``server.kubeconfig_path``) and stop when the test ends.
``kubectl`` runs the real kubectl against a server with a private cache directory, so
that no test reads discovery cached from another test's server.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from serverops.apiserver import LocalAPIServer, ThreadedAPIServer

KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")
ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def crd_paths() -> list[pathlib.Path]:
    """The CRD manifests to apply at start; override it in a test module to add some."""
    return []


@pytest.fixture
async def local_apiserver(
    tmp_path: pathlib.Path, crd_paths: list[pathlib.Path]
) -> AsyncIterator[LocalAPIServer]:
    server = LocalAPIServer(crd_paths=crd_paths, bookmark_interval=1.0)
    await server.start()
    server.write_kubeconfig(tmp_path / "kubeconfig")
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def threaded_apiserver(
    tmp_path: pathlib.Path, crd_paths: list[pathlib.Path]
) -> Iterator[ThreadedAPIServer]:
    server = ThreadedAPIServer(crd_paths=crd_paths, bookmark_interval=1.0)
    server.start()
    server.write_kubeconfig(tmp_path / "kubeconfig")
    try:
        yield server
    finally:
        server.stop()


Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(threaded_apiserver: ThreadedAPIServer, tmp_path: pathlib.Path) -> Kubectl:
    """Run kubectl with the given arguments against ``threaded_apiserver``."""
    env = dict(os.environ)
    env["KUBECONFIG"] = str(threaded_apiserver.kubeconfig_path)
    env["HOME"] = str(tmp_path / "home")
    cache = tmp_path / "kubectl-cache"

    def run(
        *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [KUBECTL, f"--cache-dir={cache}", *args]
        result = subprocess.run(
            command, input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed with exit code {result.returncode}:\n{result.stderr}"
            )
        return result

    return run
