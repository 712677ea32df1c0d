"""The operator under exactly the RBAC rules it ships with, and under each rule dropped.

The local API server evaluates RBAC here. The operator runs as its service account with
the ClusterRole, Role and bindings of ``manifests/rbac`` (the one source that the Helm
chart copies), watching namespaces by a glob and electing a leader, with the
DeletedServer CRD installed only after it started. With every rule, every behaviour
works. With any one rule dropped, the behaviour that rule's comment names breaks: the
operator gets 403 for that resource, and the end state is never reached.
"""

import copy
import json
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest
import yaml

from serverops import definitions
from serverops.apiserver import ThreadedAPIServer
from tests.e2e.harness import Kubectl, OperatorProcess, wait_for
from tests.e2e.manifests import server_manifest
from tests.e2e.objects import Objects, assert_freed, make_web

ROOT = pathlib.Path(__file__).resolve().parents[3]
RBAC = ROOT / "manifests" / "rbac"
ACCOUNT = "system:serviceaccount:serverops-system:serverops"
TOKENS = {
    "root-token": ("root", ["system:masters"]),
    "operator-token": (
        ACCOUNT,
        ["system:serviceaccounts", "system:serviceaccounts:serverops-system"],
    ),
}
OPERATOR_ARGS = (
    "--namespace=rbac-*",
    "--leader-election-lease=serverops",
    "--leader-election-namespace=serverops-system",
    "--leader-election-duration=2",
)
INTERVAL = "compute.serverops.io/reclaim-interval"


def rules(kind: str) -> list[dict[str, Any]]:
    path = RBAC / ("clusterrole.yaml" if kind == "ClusterRole" else "role.yaml")
    listed: list[dict[str, Any]] = yaml.safe_load(path.read_text())["rules"]
    return listed


def rule_ids() -> list[tuple[str, int, str]]:
    return [
        (kind, index, "/".join(rule["resources"]))
        for kind in ("ClusterRole", "Role")
        for index, rule in enumerate(rules(kind))
    ]


# Each test gets its own API server, so that the DeletedServer CRD is new to each.
@pytest.fixture
def apiserver() -> Iterator[ThreadedAPIServer]:
    early = [path for path in definitions.crd_paths() if path.name != "deletedserver.yaml"]
    server = ThreadedAPIServer(crd_paths=early, tokens=TOKENS, authorization="RBAC")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kubeconfig(apiserver: ThreadedAPIServer, tmp_path: pathlib.Path) -> pathlib.Path:
    return apiserver.write_kubeconfig(tmp_path / "kubeconfig", token="root-token")


@pytest.fixture
def kubectl(kubeconfig: pathlib.Path, tmp_path: pathlib.Path) -> Kubectl:
    return Kubectl(kubeconfig=kubeconfig, cache_dir=tmp_path / "kubectl-cache")


@pytest.fixture
def api(kubeconfig: pathlib.Path) -> Iterator[kubernetes.client.CustomObjectsApi]:
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield kubernetes.client.CustomObjectsApi(client)
    finally:
        client.close()


@pytest.fixture
def operator_kubeconfig(apiserver: ThreadedAPIServer, tmp_path: pathlib.Path) -> pathlib.Path:
    return apiserver.write_kubeconfig(tmp_path / "operator", token="operator-token")


@pytest.fixture
def cluster(kubectl: Kubectl) -> None:
    """The operator's namespace and the bindings of its service account."""
    kubectl.run("create", "namespace", "serverops-system")
    kubectl.run("apply", "-f", str(RBAC / "bindings.yaml"), "-n", "serverops-system")


def apply_rules(kubectl: Kubectl, *, drop: tuple[str, int] | None = None) -> None:
    for kind in ("ClusterRole", "Role"):
        path = RBAC / ("clusterrole.yaml" if kind == "ClusterRole" else "role.yaml")
        document = yaml.safe_load(path.read_text())
        if drop is not None and drop[0] == kind:
            document = copy.deepcopy(document)
            del document["rules"][drop[1]]
        args = ["apply", "-f", "-"] + (["-n", "serverops-system"] if kind == "Role" else [])
        kubectl.run_input(json.dumps(document), *args)


def install_late_crd(kubectl: Kubectl) -> None:
    crd = next(path for path in definitions.crd_paths() if path.name == "deletedserver.yaml")
    kubectl.run("apply", "-f", str(crd))
    kubectl.run("wait", "--for=condition=Established", "crd/deletedservers.compute.serverops.io")


def forbidden(apiserver: ThreadedAPIServer, resource: str) -> int:
    plural, _, subresource = resource.partition("/")
    total = 0
    for agent in ("serverops/", "kopf/"):
        total += apiserver.stats.count(
            resource=plural, subresource=subresource, code=403, user_agent_prefix=agent
        )
    return total


@pytest.fixture
def start_operator(
    operator_factory: Callable[..., OperatorProcess], operator_kubeconfig: pathlib.Path
) -> Callable[[], OperatorProcess]:
    def start() -> OperatorProcess:
        operator = operator_factory(*OPERATOR_ARGS)
        operator.kubeconfig = operator_kubeconfig
        operator.start(wait_ready=False)
        return operator

    return start


@pytest.fixture
def objects(api: Any, kubectl: Kubectl) -> Objects:
    kubectl.run("create", "namespace", "rbac-1")
    return Objects(api=api, namespace="rbac-1")


def test_every_behaviour_works_with_all_rules(
    cluster: None,
    start_operator: Callable[[], OperatorProcess],
    kubectl: Kubectl,
    objects: Objects,
    apiserver: ThreadedAPIServer,
) -> None:
    apply_rules(kubectl)
    operator = start_operator()
    wait_for(operator.is_ready, timeout=15, message="the operator to lead")
    install_late_crd(kubectl)

    # Build, hard delete, Events of a held deletion, soft delete, restore and purge.
    server = make_web(objects)
    kubectl.run("delete", "server", "web-1", "-n", objects.namespace)
    assert_freed(objects, server)

    make_web(objects, name="db-1", locked=True)
    kubectl.run("delete", "server", "db-1", "-n", objects.namespace, "--wait=false")
    wait_for(
        lambda: kubectl.json("get", "events", "-n", objects.namespace)["items"],
        message="the DeletionBlocked event",
    )

    soft = make_web(objects, name="app-1", annotations={INTERVAL: "1h"})
    kubectl.run("delete", "server", "app-1", "-n", objects.namespace)
    record = objects.wait_deleted_server()
    kubectl.run(
        "annotate",
        "deletedserver",
        record["metadata"]["name"],
        "-n",
        objects.namespace,
        "compute.serverops.io/restore=true",
    )
    objects.wait_gone("deletedservers", record["metadata"]["name"])
    objects.wait_status("app-1", "ACTIVE")
    kubectl.run("delete", "server", "app-1", "-n", objects.namespace)
    record = objects.wait_deleted_server()
    kubectl.run("delete", "deletedserver", record["metadata"]["name"], "-n", objects.namespace)
    assert_freed(objects, soft)
    assert sum(forbidden(apiserver, resource) for _, _, resource in rule_ids()) == 0


@pytest.mark.parametrize(("kind", "index", "resource"), rule_ids(), ids=lambda value: str(value))
def test_dropping_a_rule_breaks_its_behaviour(
    cluster: None,
    start_operator: Callable[[], OperatorProcess],
    kubectl: Kubectl,
    objects: Objects,
    apiserver: ThreadedAPIServer,
    kind: str,
    index: int,
    resource: str,
) -> None:
    apiserver.stats.reset()
    apply_rules(kubectl, drop=(kind, index))
    operator = start_operator()

    # Without these, the operator cannot start: it takes no Lease, or it cannot list the
    # kinds whose tables it fills before it handles anything.
    if resource in ("leases", "servers", "ports", "deletedservers"):
        wait_for(lambda: forbidden(apiserver, resource), message=f"403 for {resource}")
        assert not operator.is_ready(), f"the operator started without {resource}"
        return
    wait_for(operator.is_ready, timeout=15, message="the operator to lead")
    install_late_crd(kubectl)

    if resource == "events":
        make_web(objects, locked=True)
        kubectl.run("delete", "server", "web-1", "-n", objects.namespace, "--wait=false")
        objects.wait_condition("web-1", "DeletionBlocked", status="True")
        wait_for(lambda: forbidden(apiserver, resource), message="403 for events")
        assert kubectl.json("get", "events", "-n", objects.namespace)["items"] == []
        return

    if resource in ("deletedservers/status", "customresourcedefinitions"):
        # These need a server first, which the remaining rules still build.
        make_web(objects, annotations={INTERVAL: "1h"})
        kubectl.run("delete", "server", "web-1", "-n", objects.namespace, "--wait=false")
        wait_for(
            lambda: forbidden(apiserver, resource) or _unserved_crd(kubectl, objects, resource),
            message=f"the soft delete to break without {resource}",
        )
        assert not any(
            item.get("status", {}).get("status") == "SOFT_DELETED"
            for item in _records(kubectl, objects)
        )
        return

    # The rest break the very first behaviour: building a server.
    objects.create(server_manifest("web-1", networks=[{"network": "lan"}]))
    wait_for(lambda: forbidden(apiserver, resource), message=f"403 for {resource}")
    assert (objects.server("web-1") or {}).get("status", {}).get("status") != "ACTIVE"


def _records(kubectl: Kubectl, objects: Objects) -> list[dict[str, Any]]:
    result = kubectl.run(
        "get", "deletedservers", "-n", objects.namespace, "-o", "json", check=False
    )
    if result.returncode != 0:
        return []
    items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
    return items


def _unserved_crd(kubectl: Kubectl, objects: Objects, resource: str) -> bool:
    """Without the CRD watch, kopf never serves the late CRD: the record gets no status."""
    if resource != "customresourcedefinitions":
        return False
    records = _records(kubectl, objects)
    return bool(records) and not records[0].get("status")
