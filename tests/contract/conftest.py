"""
The cluster the contract tests run against: the local API server, or a real cluster.

Every contract test runs once per cluster. ``local`` starts a fresh local API server;
``real`` uses the cluster that the ``KUBECONFIG`` environment variable points at and is
skipped when it is unset. The real cluster must let the tests create the ``golden``
namespace and the ``widgets.golden.example.com`` CRD; both are deleted afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Iterator

import pytest

from serverops.apiserver import ThreadedAPIServer
from tests.contract.harness import ContractClient
from tests.kube import (
    apiserver_options,
    crd_paths,
    kubectl,
    local_apiserver,
    threaded_apiserver,
)

__all__ = ["apiserver_options", "crd_paths", "kubectl", "local_apiserver", "threaded_apiserver"]


@dataclasses.dataclass
class Cluster:
    """A cluster under test and how strictly its responses are compared."""

    kind: str  # "local" or "real"
    client: ContractClient
    server: ThreadedAPIServer | None = None

    @property
    def exact(self) -> bool:
        """Local responses must match the golden ones field for field. Real ones may add fields."""
        return self.kind == "local"


@pytest.fixture(scope="module", params=["local", "real"])
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    if request.param == "real":
        kubeconfig = os.environ.get("KUBECONFIG")
        if not kubeconfig:
            pytest.skip("KUBECONFIG is not set, so there is no real cluster to compare with")
        client = ContractClient(pathlib.Path(kubeconfig))
        try:
            yield Cluster("real", client)
        finally:
            client.close()
        return
    server = ThreadedAPIServer()
    server.start()
    path = server.write_kubeconfig(tmp_path_factory.mktemp("contract") / "kubeconfig")
    client = ContractClient(path)
    try:
        yield Cluster("local", client, server)
    finally:
        client.close()
        server.stop()
