"""Crash safety: the operator killed with SIGKILL between any two of its writes.

Each case holds one write of the operator at a barrier in the local API server, either
before the write is applied or after it is applied but before the answer. The test then
SIGKILLs the operator, drops the held request (so the operator never learns the
outcome), starts a new operator, and checks that the job ends as if nothing happened:
nothing created twice, nothing freed twice, nothing leaked.

This module has no shared operator: every test starts and kills its own.
"""

import time
from collections.abc import Callable
from typing import Any

import pytest

from serverops.apiserver import ThreadedAPIServer
from tests.e2e.harness import Kubectl, OperatorProcess, wait_for
from tests.e2e.manifests import port_manifest, server_manifest
from tests.e2e.objects import Objects, assert_freed, make_web, ports_by_origin

Factory = Callable[..., OperatorProcess]


@pytest.fixture
def objects(api: Any, namespace: str) -> Objects:
    return Objects(api=api, namespace=namespace)


def deletion_steps(server: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The operator's writes in a hard delete, as fault-rule matchers, in their order."""
    created, attached = ports_by_origin(server)
    return {
        "task-state": {"verb": "patch", "resource": "servers", "subresource": "status"},
        "first-created-port": {"verb": "delete", "resource": "ports", "name": created[0]["name"]},
        "second-created-port": {"verb": "delete", "resource": "ports", "name": created[1]["name"]},
        "attached-port": {
            "verb": "patch",
            "resource": "ports",
            "subresource": "status",
            "name": attached[0]["name"],
        },
        "finalizer": {
            "verb": "patch",
            "resource": "servers",
            "subresource": "",
            "user_agent": "kopf/",
        },
    }


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize(
    "step",
    ["task-state", "first-created-port", "second-created-port", "attached-port", "finalizer"],
)
def test_killed_during_deletion_finishes_after_restart(
    operator_factory: Factory,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
    step: str,
    phase: str,
) -> None:
    first = operator_factory()
    first.start()
    server = make_web(objects)
    matcher = deletion_steps(server)[step]
    barrier = apiserver.add_fault(action="hold", phase=phase, namespace=namespace, **matcher)

    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")
    apiserver.wait_held(barrier)
    first.kill()
    apiserver.drop(barrier)
    apiserver.remove_fault(barrier)

    second = operator_factory()
    second.start()
    objects.wait_gone("servers", "web-1")
    assert_freed(objects, server)
    created, _ = ports_by_origin(server)
    for port in created:
        deleted = apiserver.stats.count(
            verb="delete", resource="ports", namespace=namespace, name=port["name"], code=200
        )
        # A DELETE dropped after it was applied is not counted as answered.
        assert deleted <= 1, f"port {port['name']} was deleted {deleted} times"


CREATION_STEPS = {
    "first-port-create": {"verb": "create", "resource": "ports", "after": 0},
    "first-port-bind": {"verb": "patch", "resource": "ports", "subresource": "status", "after": 0},
    "second-port-create": {"verb": "create", "resource": "ports", "after": 1},
    "attach": {
        "verb": "patch",
        "resource": "ports",
        "subresource": "status",
        "name": "shared-web-1",
    },
    "server-status": {"verb": "patch", "resource": "servers", "subresource": "status"},
}


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("step", sorted(CREATION_STEPS))
def test_killed_during_creation_creates_nothing_twice(
    operator_factory: Factory,
    apiserver: ThreadedAPIServer,
    objects: Objects,
    namespace: str,
    step: str,
    phase: str,
) -> None:
    first = operator_factory()
    first.start()
    barrier = apiserver.add_fault(
        action="hold",
        phase=phase,
        namespace=namespace,
        user_agent="serverops/",
        **CREATION_STEPS[step],
    )
    objects.create(port_manifest("shared-web-1"))
    networks = [{"network": "lan"}, {"network": "storage"}, {"port": "shared-web-1"}]
    created = objects.create(server_manifest("web-1", networks=networks))

    apiserver.wait_held(barrier)
    first.kill()
    apiserver.drop(barrier)
    apiserver.remove_fault(barrier)

    second = operator_factory()
    second.start()
    server = objects.wait_status("web-1", "ACTIVE")
    made = objects.created_ports_of(created["metadata"]["uid"])
    assert sorted(port["spec"]["network"] for port in made) == ["lan", "storage"]
    assert server["status"]["portCount"] == 3
    for port in made:
        posts = apiserver.stats.count(
            verb="create",
            resource="ports",
            namespace=namespace,
            name=port["metadata"]["name"],
            code=201,
        )
        assert posts <= 1, f"port {port['metadata']['name']} was created {posts} times"
        listed = [
            entry
            for entry in server["status"]["ports"]
            if entry["name"] == port["metadata"]["name"]
        ]
        assert listed[0]["macAddress"] == port["spec"]["macAddress"]


def test_deleted_while_operator_down_finishes_on_start(
    operator_factory: Factory, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    first = operator_factory()
    first.start()
    server = make_web(objects)
    first.kill()

    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")
    assert objects.server("web-1") is not None

    second = operator_factory()
    second.start()
    objects.wait_gone("servers", "web-1")
    assert_freed(objects, server)


def test_delete_during_build_is_prompt(
    operator_factory: Factory, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    slow = operator_factory("--local-boot-seconds=60")
    slow.start()
    objects.create(port_manifest("shared-web-1"))
    networks = [{"network": "lan"}, {"network": "storage"}, {"port": "shared-web-1"}]
    objects.create(server_manifest("web-1", networks=networks))
    building = objects.wait_status("web-1", "BUILD")
    assert building["status"]["portCount"] == 3

    started = time.monotonic()
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")

    assert time.monotonic() - started < 5
    assert_freed(objects, building)


INTERVAL = "compute.serverops.io/reclaim-interval"
RESTORE = "compute.serverops.io/restore"


def soft_delete_steps(server: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The writes of a soft delete, in order, as fault-rule matchers."""
    return [
        ("task-state", {"verb": "patch", "resource": "servers", "subresource": "status"}),
        ("record", {"verb": "create", "resource": "deletedservers"}),
        (
            "finalizer",
            {"verb": "patch", "resource": "servers", "subresource": "", "user_agent": "kopf/"},
        ),
        ("record-status", {"verb": "patch", "resource": "deletedservers", "subresource": "status"}),
    ]


def restore_steps(server: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    created, attached = ports_by_origin(server)
    rebinds = [
        (
            f"rebind-{port['network'] or 'attached'}-{index}",
            {"verb": "patch", "resource": "ports", "subresource": "status", "name": port["name"]},
        )
        for index, port in enumerate([*created, *attached])
    ]
    return [
        ("restoring", {"verb": "patch", "resource": "deletedservers", "subresource": "status"}),
        ("server-create", {"verb": "create", "resource": "servers"}),
        *rebinds,
        ("server-status", {"verb": "patch", "resource": "servers", "subresource": "status"}),
        ("record-delete", {"verb": "delete", "resource": "deletedservers"}),
        (
            "record-finalizer",
            {
                "verb": "patch",
                "resource": "deletedservers",
                "subresource": "",
                "user_agent": "kopf/",
            },
        ),
    ]


def purge_steps(server: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    created, attached = ports_by_origin(server)
    return [
        ("first-created-port", {"verb": "delete", "resource": "ports", "name": created[0]["name"]}),
        (
            "second-created-port",
            {"verb": "delete", "resource": "ports", "name": created[1]["name"]},
        ),
        (
            "attached-port",
            {
                "verb": "patch",
                "resource": "ports",
                "subresource": "status",
                "name": attached[0]["name"],
            },
        ),
        (
            "record-status",
            {
                "verb": "patch",
                "resource": "deletedservers",
                "subresource": "status",
                "user_agent": "kopf/",
            },
        ),
        (
            "record-finalizer",
            {
                "verb": "patch",
                "resource": "deletedservers",
                "subresource": "",
                "user_agent": "kopf/",
            },
        ),
    ]


def cases(flow: str, steps: Any, count: int) -> list[Any]:
    """Hold each write before it is applied, and the last one also after: together these
    cover a kill between every two writes and after the last one."""
    names = [f"step-{index}" for index in range(count)]
    listed = [
        pytest.param(flow, index, "before", id=f"{flow}-{name}-before")
        for index, name in enumerate(names)
    ]
    listed.append(pytest.param(flow, count - 1, "after", id=f"{flow}-step-{count - 1}-after"))
    return listed


FLOWS = {"soft-delete": soft_delete_steps, "restore": restore_steps, "purge": purge_steps}
STEP_COUNTS = {"soft-delete": 4, "restore": 8, "purge": 5}


@pytest.mark.parametrize(
    ("flow", "index", "phase"),
    [case for flow, count in STEP_COUNTS.items() for case in cases(flow, FLOWS[flow], count)],
)
def test_killed_during_soft_delete_flows(
    operator_factory: Factory,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
    flow: str,
    index: int,
    phase: str,
) -> None:
    first = operator_factory()
    first.start()
    server = make_web(objects, annotations={INTERVAL: "1h"})
    uid = server["metadata"]["uid"]
    steps = FLOWS[flow](server)
    assert len(steps) == STEP_COUNTS[flow]
    _, matcher = steps[index]

    # Bring the server to where the flow starts.
    if flow in ("restore", "purge"):
        kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")
        record = objects.wait_deleted_server()
    name = ""
    if flow != "soft-delete":
        name = record["metadata"]["name"]

    barrier = apiserver.add_fault(action="hold", phase=phase, namespace=namespace, **matcher)
    if flow == "soft-delete":
        kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")
    elif flow == "restore":
        kubectl.run(
            "annotate", "deletedserver", name, "-n", namespace, "compute.serverops.io/restore=true"
        )
    else:
        kubectl.run("delete", "deletedserver", name, "-n", namespace, "--wait=false")
    apiserver.wait_held(barrier)
    first.kill()
    apiserver.drop(barrier)
    apiserver.remove_fault(barrier)

    second = operator_factory()
    second.start()

    if flow == "soft-delete":
        objects.wait_gone("servers", "web-1")
        kept = objects.wait_deleted_server()
        assert kept["spec"]["originalUID"] == uid
        assert len(objects.deleted_servers()) == 1
        assert_bound(objects, server, uid)
    elif flow == "restore":
        objects.wait_gone("deletedservers", name)
        restored = objects.wait_status("web-1", "ACTIVE")
        marks = restored["metadata"]["annotations"]
        assert marks["compute.serverops.io/restored-from"] == name
        assert restored["status"]["restoredFrom"] == name
        assert restored["status"]["ports"] == server["status"]["ports"]
        assert_bound(objects, server, restored["metadata"]["uid"])
    else:
        objects.wait_gone("deletedservers", name)
        assert_freed(objects, server)
    assert objects.deleted_servers() == [] or flow == "soft-delete"


def assert_bound(objects: Objects, server: dict[str, Any], uid: str) -> None:
    for port in server["status"]["ports"]:
        kept = objects.port(port["name"])
        assert kept is not None, f"port {port['name']} is gone"
        assert kept["metadata"]["uid"] == port["uid"]
        assert kept["status"]["server"]["uid"] == uid
        assert kept["status"]["macAddress"] == port["macAddress"]


@pytest.mark.parametrize("restart", [False, True], ids=["same-operator", "restarted"])
def test_force_delete_during_restore_keeps_ports(
    operator_factory: Factory,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
    restart: bool,
) -> None:
    first = operator_factory()
    first.start()
    server = make_web(objects, annotations={INTERVAL: "1h"})
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")
    name = objects.wait_deleted_server()["metadata"]["name"]

    # Stop the restore just before the Server records that it took the ports over.
    matcher = {"verb": "patch", "resource": "servers", "subresource": "status"}
    barrier = apiserver.add_fault(action="hold", phase="before", namespace=namespace, **matcher)
    kubectl.run("annotate", "deletedserver", name, "-n", namespace, f"{RESTORE}=true")
    apiserver.wait_held(barrier)
    kubectl.run("delete", "deletedserver", name, "-n", namespace, "--wait=false")
    if restart:
        first.kill()
        apiserver.drop(barrier)
        apiserver.remove_fault(barrier)
        operator_factory().start()
    else:
        apiserver.release(barrier)
        apiserver.remove_fault(barrier)

    objects.wait_gone("deletedservers", name)
    restored = objects.wait_status("web-1", "ACTIVE")
    assert restored["status"]["restoredFrom"] == name
    assert restored["status"]["ports"] == server["status"]["ports"]
    assert_bound(objects, server, restored["metadata"]["uid"])


def test_operator_down_across_reclaim_time(
    operator_factory: Factory, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    first = operator_factory()
    first.start()
    server = make_web(objects, annotations={INTERVAL: "2s"})
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")
    record = objects.wait_deleted_server()
    first.kill()

    due = time.mktime(time.strptime(record["spec"]["reclaimAt"], "%Y-%m-%dT%H:%M:%SZ"))
    due -= time.timezone
    wait_for(lambda: time.time() > due + 1, timeout=5, message="the reclaim time to pass")
    assert objects.get("deletedservers", record["metadata"]["name"]) is not None

    second = operator_factory()
    started = time.monotonic()
    second.start()
    objects.wait_gone("deletedservers", record["metadata"]["name"], timeout=10)
    assert time.monotonic() - started < 5
    assert_freed(objects, server)


def test_operator_wide_interval_soft_deletes(
    operator_factory: Factory, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    operator = operator_factory("--reclaim-interval=1h30m")
    operator.start()
    server = make_web(objects)

    kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")

    record = objects.wait_deleted_server()
    assert record["spec"]["originalUID"] == server["metadata"]["uid"]
    deleted_at = time.strptime(record["spec"]["deletedAt"], "%Y-%m-%dT%H:%M:%SZ")
    reclaim_at = time.strptime(record["spec"]["reclaimAt"], "%Y-%m-%dT%H:%M:%SZ")
    assert time.mktime(reclaim_at) - time.mktime(deleted_at) == 5400
