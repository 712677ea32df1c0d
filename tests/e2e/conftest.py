"""Fixtures for end-to-end tests: a local API server with the CRDs, the real operator
process against it, the real kubectl and the ``kubernetes`` client, and a fresh
namespace for each test.

The API server and one operator are shared by the tests of a module; tests that kill or
restart the operator start their own with the ``operator_factory`` fixture.
"""

import itertools
import pathlib
import re
from collections.abc import Callable, Iterator

import kubernetes
import pytest

from serverops import definitions
from serverops.apiserver import ThreadedAPIServer
from tests.e2e.harness import Kubectl, OperatorProcess, running_operator

_namespaces = itertools.count(1)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def apiserver(workdir: pathlib.Path) -> Iterator[ThreadedAPIServer]:
    server = ThreadedAPIServer(crd_paths=definitions.crd_paths())
    server.start()
    server.write_kubeconfig(workdir / "kubeconfig")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kubeconfig(apiserver: ThreadedAPIServer, workdir: pathlib.Path) -> pathlib.Path:
    assert apiserver.kubeconfig_path is not None
    return apiserver.kubeconfig_path


@pytest.fixture(scope="module")
def kubectl(kubeconfig: pathlib.Path, workdir: pathlib.Path) -> Kubectl:
    return Kubectl(kubeconfig=kubeconfig, cache_dir=workdir / "kubectl-cache")


@pytest.fixture(scope="module")
def api(kubeconfig: pathlib.Path) -> Iterator[kubernetes.client.CustomObjectsApi]:
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield kubernetes.client.CustomObjectsApi(client)
    finally:
        client.close()


@pytest.fixture(scope="module")
def core(kubeconfig: pathlib.Path) -> Iterator[kubernetes.client.CoreV1Api]:
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield kubernetes.client.CoreV1Api(client)
    finally:
        client.close()


@pytest.fixture(scope="module")
def operator(kubeconfig: pathlib.Path, workdir: pathlib.Path) -> Iterator[OperatorProcess]:
    with running_operator(kubeconfig=kubeconfig, log_path=workdir / "operator.log") as process:
        yield process


@pytest.fixture
def operator_factory(
    kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> Iterator[Callable[..., OperatorProcess]]:
    """Make operator processes that this test starts, kills and restarts itself."""
    made: list[OperatorProcess] = []

    def make(*extra_args: str) -> OperatorProcess:
        process = OperatorProcess(
            kubeconfig=kubeconfig,
            log_path=tmp_path / f"operator-{len(made)}.log",
            extra_args=extra_args,
        )
        made.append(process)
        return process

    try:
        yield make
    finally:
        for process in made:
            process.stop()
            print(f"--- {process.log_path.name} ---\n{process.log()}")


@pytest.fixture
def namespace(core: kubernetes.client.CoreV1Api, request: pytest.FixtureRequest) -> str:
    readable = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())
    name = f"e2e-{next(_namespaces)}-{readable}"[:50].strip("-")
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name
