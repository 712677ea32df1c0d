"""Hard deletion end to end: the real ``serverops`` process, the real kubectl.

Each test makes a server with two created ports and one attached port (the issue's
reference case) unless it says otherwise, deletes it one way or another, and checks
the outcome: created ports deleted and gone, the attached port kept, DOWN and unbound,
and the server released only after that.
"""

import json
import time
from typing import Any

import pytest

from serverops.apiserver import ThreadedAPIServer
from tests.e2e.harness import Kubectl, OperatorProcess, wait_for
from tests.e2e.manifests import port_manifest, server_manifest
from tests.e2e.objects import GROUP, Objects, assert_freed, condition, make_web, ports_by_origin

WRITE_VERBS = ("create", "update", "patch", "delete")


@pytest.fixture
def objects(api: Any, namespace: str) -> Objects:
    return Objects(api=api, namespace=namespace)


def operator_writes(apiserver: ThreadedAPIServer, namespace: str) -> int:
    return sum(
        apiserver.stats.count(verb=verb, namespace=namespace, user_agent_prefix=agent)
        for verb in WRITE_VERBS
        for agent in ("serverops/", "kopf/")
    )


def test_server_gets_created_and_attached_ports(
    operator: OperatorProcess, objects: Objects
) -> None:
    server = make_web(objects)

    created, attached = ports_by_origin(server)
    assert [port["network"] for port in created] == ["lan", "storage"]
    assert [port["name"] for port in attached] == ["shared-web-1"]
    assert server["status"]["portCount"] == 3
    assert condition(server, "Ready")["status"] == "True"
    assert condition(server, "DeletionBlocked")["status"] == "False"
    macs = {port["macAddress"] for port in server["status"]["ports"]}
    assert len(macs) == 3
    for port in server["status"]["ports"]:
        bound = objects.port(port["name"])
        assert bound is not None
        assert bound["status"]["server"] == {
            "name": "web-1",
            "uid": server["metadata"]["uid"],
        }
        assert bound["status"]["status"] == "ACTIVE"
        assert "ownerReferences" not in bound["metadata"]


def test_finalizer_released_only_after_ports_freed(
    operator: OperatorProcess,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    server = make_web(objects)
    barrier = apiserver.add_fault(
        action="hold",
        verb="patch",
        resource="servers",
        subresource="",
        namespace=namespace,
        name="web-1",
        user_agent="kopf/",
    )

    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")
    apiserver.wait_held(barrier)

    # kopf is about to remove the finalizer: by now every port must be freed.
    terminating = objects.server("web-1")
    assert terminating is not None
    assert terminating["status"]["taskState"] == "deleting"
    assert condition(terminating, "Ready")["reason"] == "Deleting"
    assert_freed(objects, server)

    apiserver.release(barrier)
    objects.wait_gone("servers", "web-1")
    assert_freed(objects, server)


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_each_propagation_policy_frees_ports_alike(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str, cascade: str
) -> None:
    server = make_web(objects)

    kubectl.run("delete", "server", "web-1", "-n", namespace, f"--cascade={cascade}")

    assert objects.server("web-1") is None
    assert_freed(objects, server)


def test_locked_deletion_held_until_unlocked(
    operator: OperatorProcess,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    server = make_web(objects, locked=True, locked_reason="Nightly backup runs")
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")

    blocked = objects.wait_condition("web-1", "DeletionBlocked", status="True", reason="Locked")
    assert "Nightly backup runs" in blocked["message"]
    assert "spec.locked" in blocked["message"]
    for port in server["status"]["ports"]:
        kept = objects.port(port["name"])
        assert kept is not None
        assert kept["status"]["server"]["uid"] == server["metadata"]["uid"]
    held = objects.server("web-1")
    assert held is not None
    assert held["status"]["taskState"] == ""

    events = wait_for(
        lambda: kubectl.json(
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            "involvedObject.name=web-1,reason=DeletionBlocked",
        )["items"],
        message="the DeletionBlocked event",
    )
    assert [event["type"] for event in events] == ["Warning"]

    # Events on the held server (here two annotations) cost the operator no writes.
    writes_before = operator_writes(apiserver, namespace)
    kubectl.run("annotate", "server", "web-1", "-n", namespace, "note=one")
    kubectl.run("annotate", "server", "web-1", "-n", namespace, "note=two", "--overwrite")
    time.sleep(1.5)  # a quiet window: the check is that nothing happens in it
    assert operator_writes(apiserver, namespace) == writes_before
    assert len(kubectl.json("get", "events", "-n", namespace)["items"]) == 1

    unlocked_at = time.monotonic()
    kubectl.run(
        "patch",
        "server",
        "web-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"locked": False}}),
    )
    objects.wait_gone("servers", "web-1", timeout=5)
    assert time.monotonic() - unlocked_at < 5
    assert_freed(objects, server)


def test_foreground_delete_of_locked_server_loses_nothing(
    operator: OperatorProcess,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    server = make_web(objects, locked=True)

    kubectl.run(
        "delete", "server", "web-1", "-n", namespace, "--cascade=foreground", "--wait=false"
    )
    objects.wait_condition("web-1", "DeletionBlocked", status="True")
    apiserver.settle()

    held = objects.server("web-1")
    assert held is not None
    assert held["metadata"]["deletionTimestamp"]
    for port in server["status"]["ports"]:
        kept = objects.port(port["name"])
        assert kept is not None, f"port {port['name']} was deleted while the server is locked"
        assert kept["metadata"].get("deletionTimestamp") is None

    objects.patch_server("web-1", {"spec": {"locked": False}})
    objects.wait_gone("servers", "web-1")
    assert_freed(objects, server)


def test_namespace_deletion_frees_ports(
    operator: OperatorProcess,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    make_web(objects)

    kubectl.run("delete", "namespace", namespace, "--timeout=20s")

    assert kubectl.run("get", "namespace", namespace, check=False).returncode != 0
    # The namespace controller may delete the ports before the operator gets to them;
    # either way, the operator never deletes one twice.
    deletes = apiserver.stats.count(
        verb="delete", resource="ports", namespace=namespace, user_agent_prefix="serverops/"
    )
    assert deletes <= 2


def test_locked_server_holds_namespace_deletion(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    make_web(objects, locked=True, locked_reason="keep")

    kubectl.run("delete", "namespace", namespace, "--wait=false")
    objects.wait_condition("web-1", "DeletionBlocked", status="True")

    # The namespace controller deletes every other object, ports included; the lock
    # holds the server, and with it the namespace, until it is lifted.
    phase = kubectl.json("get", "namespace", namespace)["status"]["phase"]
    assert phase == "Terminating"
    assert objects.server("web-1") is not None

    objects.patch_server("web-1", {"spec": {"locked": False}})
    wait_for(
        lambda: kubectl.run("get", "namespace", namespace, check=False).returncode != 0,
        timeout=15,
        message=f"namespace {namespace} to be gone",
    )


def test_delete_right_after_create_leaks_nothing(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    objects.create(port_manifest("shared-web-1"))
    networks = [{"network": "lan"}, {"network": "storage"}, {"port": "shared-web-1"}]
    created = objects.create(server_manifest("web-1", networks=networks))

    kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")

    assert objects.created_ports_of(created["metadata"]["uid"]) == []
    shared = objects.port("shared-web-1")
    assert shared is not None
    assert "server" not in shared.get("status", {})


def test_foreign_finalizer_is_never_lost_or_readded(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    server = make_web(objects, locked=True)
    add = [{"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/keep"}]
    kubectl.run("patch", "server", "web-1", "-n", namespace, "--type=json", "-p", json.dumps(add))
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")
    objects.wait_condition("web-1", "DeletionBlocked", status="True")

    # Another controller releases its finalizer while ours still holds the server.
    held = objects.server("web-1")
    assert held is not None
    index = held["metadata"]["finalizers"].index("example.com/keep")
    remove = [
        {"op": "test", "path": f"/metadata/finalizers/{index}", "value": "example.com/keep"},
        {"op": "remove", "path": f"/metadata/finalizers/{index}"},
    ]
    kubectl.run(
        "patch", "server", "web-1", "-n", namespace, "--type=json", "-p", json.dumps(remove)
    )

    objects.patch_server("web-1", {"spec": {"locked": False}})
    objects.wait_gone("servers", "web-1")
    assert_freed(objects, server)


def test_foreign_finalizer_outlives_ours(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    server = make_web(objects)
    add = [{"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/keep"}]
    kubectl.run("patch", "server", "web-1", "-n", namespace, "--type=json", "-p", json.dumps(add))

    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")

    def only_foreign_left() -> bool:
        current = objects.server("web-1") or {}
        return current.get("metadata", {}).get("finalizers") == ["example.com/keep"]

    wait_for(only_foreign_left, message="our finalizer to go and the foreign one to stay")
    assert_freed(objects, server)
    kubectl.run(
        "patch",
        "server",
        "web-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"metadata": {"finalizers": None}}),
    )
    objects.wait_gone("servers", "web-1")


def test_second_server_on_bound_port_is_error_until_freed(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    first = make_web(objects)
    networks = [{"port": "shared-web-1"}]
    objects.create(server_manifest("web-2", networks=networks))

    error = objects.wait_status("web-2", "ERROR")
    ready = condition(error, "Ready")
    assert ready["reason"] == "PortInUse"
    assert f"{namespace}/web-1" in ready["message"]
    assert first["metadata"]["uid"] in ready["message"]

    kubectl.run("delete", "server", "web-1", "-n", namespace)
    active = objects.wait_status("web-2", "ACTIVE")
    assert [port["name"] for port in active["status"]["ports"]] == ["shared-web-1"]


def test_missing_attached_port_waits_for_it(operator: OperatorProcess, objects: Objects) -> None:
    objects.create(server_manifest("web-1", networks=[{"port": "later"}]))
    error = objects.wait_status("web-1", "ERROR")
    assert condition(error, "Ready")["reason"] == "PortNotFound"

    objects.create(port_manifest("later"))

    active = objects.wait_status("web-1", "ACTIVE")
    assert active["status"]["ports"][0]["name"] == "later"


def test_created_ports_carry_server_labels(operator: OperatorProcess, objects: Objects) -> None:
    server = make_web(objects)

    labelled = objects.created_ports_of(server["metadata"]["uid"])

    assert len(labelled) == 2
    for port in labelled:
        assert port["metadata"]["labels"][f"{GROUP}/origin"] == "created"
        assert port["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "serverops"
