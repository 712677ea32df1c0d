"""Soft delete end to end: DeletedServer, restore, reclaim, force delete, bad intervals.

The shared operator runs with the default interval 0 (hard delete, as in Nova); each
test sets the interval on its server with the annotation, in seconds where it waits for
a reclaim.
"""

import json
import time
from typing import Any

import pytest

from serverops.apiserver import ThreadedAPIServer
from tests.e2e.harness import Kubectl, OperatorProcess, wait_for
from tests.e2e.manifests import server_manifest
from tests.e2e.objects import Objects, assert_freed, condition, make_web

INTERVAL = "compute.serverops.io/reclaim-interval"
RESTORE = "compute.serverops.io/restore"
RESTORED_FROM = "compute.serverops.io/restored-from"


@pytest.fixture
def objects(api: Any, namespace: str) -> Objects:
    return Objects(api=api, namespace=namespace)


def soft_delete(kubectl: Kubectl, namespace: str, name: str = "web-1") -> float:
    """Delete the server with kubectl (which waits until it is gone); return the seconds."""
    started = time.monotonic()
    kubectl.run("delete", "server", name, "-n", namespace, "--timeout=10s")
    return time.monotonic() - started


def assert_kept(objects: Objects, server: dict[str, Any], *, bound_to: str) -> None:
    """Check every port of ``server`` is there, unchanged, and bound to ``bound_to``."""
    for port in server["status"]["ports"]:
        kept = objects.port(port["name"])
        assert kept is not None, f"port {port['name']} is gone"
        assert kept["metadata"]["uid"] == port["uid"]
        assert kept["status"]["macAddress"] == port["macAddress"]
        assert kept["status"]["server"]["uid"] == bound_to
        assert kept["status"]["status"] == "ACTIVE"
        assert kept["metadata"].get("deletionTimestamp") is None


def test_soft_delete_records_server_and_frees_name(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    server = make_web(objects, annotations={INTERVAL: "1h"}, labels={"tier": "web"})

    seconds = soft_delete(kubectl, namespace)

    assert seconds < 2
    assert objects.server("web-1") is None
    record = objects.wait_deleted_server()
    assert record["spec"]["originalName"] == "web-1"
    assert record["spec"]["originalUID"] == server["metadata"]["uid"]
    assert record["spec"]["server"] == server["spec"]
    assert record["spec"]["labels"] == {"tier": "web"}
    assert record["spec"]["annotations"][INTERVAL] == "1h"
    assert [port["name"] for port in record["spec"]["ports"]] == [
        port["name"] for port in server["status"]["ports"]
    ]
    assert record["status"]["portCount"] == 3
    deleted_at = record["spec"]["deletedAt"]
    reclaim_at = record["spec"]["reclaimAt"]
    assert reclaim_at > deleted_at
    assert_kept(objects, server, bound_to=server["metadata"]["uid"])

    table = kubectl.run("get", "deletedservers", "-n", namespace).stdout
    header = table.splitlines()[0].split()
    assert header == [
        "NAME",
        "ORIGINAL",
        "NAME",
        "STATUS",
        "DELETED",
        "AT",
        "RECLAIM",
        "AT",
        "PORTS",
    ]
    assert "SOFT_DELETED" in table
    assert kubectl.run("get", "dsrv", "-n", namespace).stdout == table


def test_new_server_under_same_name_gets_new_ports(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    old = make_web(objects, annotations={INTERVAL: "1h"})
    soft_delete(kubectl, namespace)
    objects.wait_deleted_server()

    networks = [{"network": "lan"}, {"network": "storage"}]
    objects.create(server_manifest("web-1", networks=networks))
    new = objects.wait_status("web-1", "ACTIVE")

    old_names = {port["name"] for port in old["status"]["ports"]}
    new_names = {port["name"] for port in new["status"]["ports"]}
    assert old_names.isdisjoint(new_names)
    assert_kept(objects, old, bound_to=old["metadata"]["uid"])
    assert len(objects.deleted_servers()) == 1


def test_restore_brings_back_spec_labels_annotations_ports(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    annotations = {INTERVAL: "1h", "team": "storage"}
    old = make_web(objects, annotations=annotations, labels={"tier": "web"})
    soft_delete(kubectl, namespace)
    record = objects.wait_deleted_server()

    kubectl.run(
        "annotate", "deletedserver", record["metadata"]["name"], "-n", namespace, f"{RESTORE}=true"
    )

    objects.wait_gone("deletedservers", record["metadata"]["name"])
    restored = objects.wait_status("web-1", "ACTIVE")
    assert restored["metadata"]["uid"] != old["metadata"]["uid"]
    assert restored["spec"] == old["spec"]
    assert restored["metadata"]["labels"] == {"tier": "web"}
    origin = record["metadata"]["name"]
    assert restored["metadata"]["annotations"] == {**annotations, RESTORED_FROM: origin}
    assert restored["status"]["restoredFrom"] == origin
    assert restored["status"]["ports"] == old["status"]["ports"]
    assert_kept(objects, old, bound_to=restored["metadata"]["uid"])
    for reason_object in ("server/web-1", f"deletedserver/{record['metadata']['name']}"):
        kind, name = reason_object.split("/")
        events = kubectl.json(
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            f"involvedObject.name={name},reason=Restored",
        )["items"]
        assert len(events) == 1, f"expected one Restored event on {reason_object}"

    # The restored server is an ordinary one again: a hard delete frees its ports.
    objects.patch_server("web-1", {"metadata": {"annotations": {INTERVAL: "0"}}})
    soft_delete(kubectl, namespace)
    assert_freed(objects, old)


def test_reclaim_purges_at_reclaim_time(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    server = make_web(objects, annotations={INTERVAL: "3s"})
    soft_delete(kubectl, namespace)
    record = objects.wait_deleted_server()
    reclaim_at = record["spec"]["reclaimAt"]
    assert_kept(objects, server, bound_to=server["metadata"]["uid"])

    def purged() -> float | None:
        if objects.get("deletedservers", record["metadata"]["name"]) is None:
            return time.time()
        return None

    gone_at = wait_for(purged, timeout=15, interval=0.1, message="the reclaim")

    due = time.mktime(time.strptime(reclaim_at, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert gone_at >= due, "purged before reclaimAt"
    assert gone_at - due < 3, f"purged {gone_at - due:.1f}s after reclaimAt"
    assert_freed(objects, server)


def test_force_delete_purges_at_once(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    server = make_web(objects, annotations={INTERVAL: "1h"})
    soft_delete(kubectl, namespace)
    record = objects.wait_deleted_server()

    kubectl.run(
        "delete", "deletedserver", record["metadata"]["name"], "-n", namespace, "--timeout=10s"
    )

    assert objects.deleted_servers() == []
    assert_freed(objects, server)
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "reason=Purged")
    assert len(events["items"]) == 1


def test_restore_into_taken_name_touches_nothing(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    old = make_web(objects, annotations={INTERVAL: "1h"})
    soft_delete(kubectl, namespace)
    record = objects.wait_deleted_server()
    objects.create(server_manifest("web-1", networks=[{"network": "lan"}]))
    newcomer = objects.wait_status("web-1", "ACTIVE")

    name = record["metadata"]["name"]
    kubectl.run("annotate", "deletedserver", name, "-n", namespace, f"{RESTORE}=true")

    def refused() -> dict[str, Any] | None:
        current = objects.get("deletedservers", name) or {}
        for item in current.get("status", {}).get("conditions", []):
            if item["type"] == "Restored" and item["reason"] == "NameTaken":
                return current
        return None

    current = wait_for(refused, message="the NameTaken condition")
    message = condition(current, "Restored")["message"]
    assert f"{namespace}/web-1" in message
    assert RESTORE in message
    assert current["status"]["taskState"] == ""
    assert RESTORE not in (current["metadata"].get("annotations") or {})
    same = objects.server("web-1")
    assert same is not None
    assert same["metadata"]["uid"] == newcomer["metadata"]["uid"]
    assert same["status"]["ports"] == newcomer["status"]["ports"]
    assert_kept(objects, old, bound_to=old["metadata"]["uid"])


@pytest.mark.parametrize("cascade", ["foreground", "orphan", "background"])
def test_cascades_keep_soft_deleted_ports(
    operator: OperatorProcess,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
    cascade: str,
) -> None:
    server = make_web(objects, annotations={INTERVAL: "1h"})

    kubectl.run(
        "delete", "server", "web-1", "-n", namespace, f"--cascade={cascade}", "--timeout=10s"
    )
    objects.wait_deleted_server()
    apiserver.settle()

    assert_kept(objects, server, bound_to=server["metadata"]["uid"])


@pytest.mark.parametrize("value", ["-5", "abc", "99999999999d", "1.5h"])
def test_invalid_interval_holds_until_fixed(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str, value: str
) -> None:
    server = make_web(objects, annotations={INTERVAL: value})

    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")

    blocked = objects.wait_condition(
        "web-1", "DeletionBlocked", status="True", reason="InvalidReclaimInterval"
    )
    assert repr(value) in blocked["message"]
    assert '"1h30m"' in blocked["message"]
    assert INTERVAL in blocked["message"]
    assert_kept(objects, server, bound_to=server["metadata"]["uid"])
    assert objects.deleted_servers() == []

    kubectl.run("annotate", "server", "web-1", "-n", namespace, f"{INTERVAL}=1h", "--overwrite")

    objects.wait_gone("servers", "web-1")
    record = objects.wait_deleted_server()
    assert record["spec"]["originalUID"] == server["metadata"]["uid"]
    assert_kept(objects, server, bound_to=server["metadata"]["uid"])


def test_locked_server_is_held_not_soft_deleted(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    make_web(objects, annotations={INTERVAL: "1h"}, locked=True, locked_reason="keep")

    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")
    objects.wait_condition("web-1", "DeletionBlocked", status="True", reason="Locked")

    assert objects.deleted_servers() == []
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
    objects.wait_gone("servers", "web-1")
    assert len(objects.deleted_servers()) == 1


def test_namespace_deletion_purges_soft_deleted(
    operator: OperatorProcess,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    make_web(objects, annotations={INTERVAL: "1h"})
    soft_delete(kubectl, namespace)
    record = objects.wait_deleted_server()

    kubectl.run("delete", "namespace", namespace, "--timeout=20s")

    assert kubectl.run("get", "namespace", namespace, check=False).returncode != 0
    purges = apiserver.stats.count(
        verb="patch",
        resource="deletedservers",
        subresource="status",
        namespace=namespace,
        name=record["metadata"]["name"],
        user_agent_prefix="kopf/",
    )
    assert purges >= 1, "the purge never began"


def test_server_in_terminating_namespace_is_hard_deleted(
    operator: OperatorProcess,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    make_web(objects, annotations={INTERVAL: "1h"})

    kubectl.run("delete", "namespace", namespace, "--timeout=20s")

    assert kubectl.run("get", "namespace", namespace, check=False).returncode != 0
    refused = apiserver.stats.count(
        verb="create", resource="deletedservers", namespace=namespace, code=403
    )
    assert refused == 1, "the soft delete should have met the terminating namespace"
    # The namespace controller may delete the ports before the operator gets to them;
    # either way, the operator never deletes one twice.
    deletes = apiserver.stats.count(
        verb="delete", resource="ports", namespace=namespace, user_agent_prefix="serverops/"
    )
    assert deletes <= 2


def forged_record(namespace: str, server: dict[str, Any], *, original_uid: str) -> dict[str, Any]:
    """A DeletedServer made by hand that lists a live server's ports, due at once."""
    return {
        "apiVersion": "compute.serverops.io/v1alpha1",
        "kind": "DeletedServer",
        "metadata": {"name": "forged", "namespace": namespace},
        "spec": {
            "originalName": "ghost",
            "originalUID": original_uid,
            "deletedAt": "2026-01-01T00:00:00Z",
            "reclaimAt": "2026-01-01T00:00:01Z",
            "server": {"flavor": "m1.small", "image": "cirros-0.6"},
            "ports": server["status"]["ports"],
        },
    }


@pytest.mark.parametrize("original", ["made-up-uid", "live-uid"])
def test_forged_record_frees_nothing(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str, original: str
) -> None:
    server = make_web(objects)
    uid = server["metadata"]["uid"] if original == "live-uid" else "0000-made-up"
    kubectl.run_input(
        json.dumps(forged_record(namespace, server, original_uid=uid)),
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
    )

    objects.wait_gone("deletedservers", "forged")

    assert_kept(objects, server, bound_to=server["metadata"]["uid"])
    assert objects.wait_status("web-1", "ACTIVE")


def test_restore_keeps_deleted_port_mac(
    operator: OperatorProcess, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    old = make_web(objects, annotations={INTERVAL: "1h"})
    soft_delete(kubectl, namespace)
    record = objects.wait_deleted_server()
    lost = next(port for port in old["status"]["ports"] if port["origin"] == "created")
    kubectl.run("delete", "port", lost["name"], "-n", namespace, "--timeout=10s")

    kubectl.run(
        "annotate", "deletedserver", record["metadata"]["name"], "-n", namespace, f"{RESTORE}=true"
    )

    objects.wait_gone("deletedservers", record["metadata"]["name"])
    restored = objects.wait_status("web-1", "ACTIVE")
    remade = objects.port(lost["name"])
    assert remade is not None
    assert remade["metadata"]["uid"] != lost["uid"]
    assert remade["status"]["macAddress"] == lost["macAddress"]
    assert remade["status"]["server"]["uid"] == restored["metadata"]["uid"]
    listed = {port["name"]: port["macAddress"] for port in restored["status"]["ports"]}
    assert listed == {port["name"]: port["macAddress"] for port in old["status"]["ports"]}
