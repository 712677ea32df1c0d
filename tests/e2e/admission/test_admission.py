"""Admission end to end: 409 for locked servers, administrators, and 422 for bad input.

The API server authenticates users by bearer token and calls the operator's webhooks
over HTTPS, as a real one does; the operator installs its webhook configurations with
``--webhook-configure``. ``alice`` is an ordinary user, ``root`` a cluster administrator
and ``olga`` a member of the group the operator is told is an administrator group.
"""

import json
import pathlib
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from serverops.apiserver import ThreadedAPIServer
from tests.e2e.admission.conftest import webhook_args
from tests.e2e.harness import Kubectl, OperatorProcess, running_operator, wait_for
from tests.e2e.manifests import port_manifest, server_manifest
from tests.e2e.objects import Objects, assert_freed, condition, make_web

LOCKED = "Server {namespace}/web-1 is locked"


@pytest.fixture(scope="module")
def operator(
    kubeconfig: pathlib.Path,
    workdir: pathlib.Path,
    webhook_port: int,
) -> Iterator[OperatorProcess]:
    with running_operator(
        kubeconfig=kubeconfig,
        log_path=workdir / "operator.log",
        extra_args=webhook_args(webhook_port),
    ) as process:
        yield process


@pytest.fixture
def objects(api: Any, namespace: str) -> Objects:
    return Objects(api=api, namespace=namespace)


def apply_as(user: Kubectl, manifest: dict[str, Any], namespace: str) -> Any:
    return user.run_input(json.dumps(manifest), "apply", "-n", namespace, "-f", "-", check=False)


def test_non_admin_delete_of_locked_server_is_409(
    operator: OperatorProcess,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    server = make_web(objects, locked=True, locked_reason="Quarterly close")

    result = alice.run("delete", "server", "web-1", "-n", namespace, "-v=6", check=False)

    assert result.returncode != 0
    assert "409 Conflict" in result.stderr
    expected = (
        f'admission webhook "validate-server-delete.compute.serverops.io" denied the request: '
        f"Server {namespace}/web-1 is locked: Quarterly close. It cannot be deleted except by "
        f"an administrator"
    )
    assert expected in result.stderr
    untouched = objects.server("web-1")
    assert untouched is not None
    assert "deletionTimestamp" not in untouched["metadata"]
    assert untouched["metadata"]["resourceVersion"] == server["metadata"]["resourceVersion"]


def test_non_admin_dry_run_delete_is_refused_alike(
    operator: OperatorProcess,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    make_web(objects, locked=True)

    result = alice.run(
        "delete", "server", "web-1", "-n", namespace, "--dry-run=server", check=False
    )

    assert result.returncode != 0
    assert LOCKED.format(namespace=namespace) in result.stderr
    assert "deletionTimestamp" not in (objects.server("web-1") or {})["metadata"]


@pytest.mark.parametrize("user", ["root", "olga"])
def test_admin_delete_of_locked_server_completes(
    operator: OperatorProcess,
    apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    olga: Kubectl,
    objects: Objects,
    namespace: str,
    user: str,
) -> None:
    server = make_web(objects, locked=True, locked_reason="keep")
    admin = kubectl if user == "root" else olga

    admin.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")

    assert objects.server("web-1") is None
    assert_freed(objects, server)
    events = kubectl.json(
        "get", "events", "-n", namespace, "--field-selector", "reason=LockOverridden"
    )["items"]
    assert len(events) == 1
    assert f"administrator {user} approved it" in events[0]["message"]


def test_forged_approval_is_rejected(
    operator: OperatorProcess,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    make_web(objects, locked=True)
    forged = json.dumps(
        {"user": "root", "uid": "x", "at": "2026-01-01T00:00:00Z", "signature": "0" * 64}
    )

    result = alice.run(
        "annotate",
        "server",
        "web-1",
        "-n",
        namespace,
        f"compute.serverops.io/deletion-approval={forged}",
        check=False,
    )

    assert result.returncode != 0
    assert "only the serverops operator writes deletion approvals" in result.stderr


def test_admin_lock_cannot_be_cleared_by_non_admin(
    operator: OperatorProcess,
    kubectl: Kubectl,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    make_web(objects)
    kubectl.run(
        "patch",
        "server",
        "web-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"locked": True, "lockedReason": "audit"}}),
    )
    locked = objects.server("web-1") or {}
    annotations = locked["metadata"].get("annotations", {})
    assert annotations.get("compute.serverops.io/locked-by") == "root"
    assert annotations.get("compute.serverops.io/locked-by-admin") == "true"

    result = alice.run(
        "patch",
        "server",
        "web-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"locked": False}}),
        "-v=6",
        check=False,
    )

    assert result.returncode != 0
    assert "403 Forbidden" in result.stderr
    assert "was locked by the administrator root" in result.stderr
    assert (objects.server("web-1") or {})["spec"]["locked"] is True


def test_non_admin_lock_can_be_cleared_by_its_owner(
    operator: OperatorProcess,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    make_web(objects)
    alice.run(
        "patch",
        "server",
        "web-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"locked": True}}),
    )
    annotations = (objects.server("web-1") or {})["metadata"].get("annotations", {})
    assert annotations.get("compute.serverops.io/locked-by") == "alice"
    assert annotations.get("compute.serverops.io/locked-by-admin") == "false"

    alice.run(
        "patch",
        "server",
        "web-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"locked": False}}),
    )

    unlocked = objects.server("web-1") or {}
    assert unlocked["spec"]["locked"] is False
    assert "compute.serverops.io/locked-by" not in unlocked["metadata"].get("annotations", {})


def test_restore_and_force_delete_of_locked_record(
    operator: OperatorProcess,
    kubectl: Kubectl,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    make_web(objects, annotations={"compute.serverops.io/reclaim-interval": "1h"})
    kubectl.run(
        "patch",
        "server",
        "web-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"locked": True}}),
    )
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")
    record = objects.wait_deleted_server()
    name = record["metadata"]["name"]

    restore = alice.run(
        "annotate",
        "deletedserver",
        name,
        "-n",
        namespace,
        "compute.serverops.io/restore=true",
        "-v=6",
        check=False,
    )
    purge = alice.run("delete", "deletedserver", name, "-n", namespace, "-v=6", check=False)

    for result, action in ((restore, "restored"), (purge, "force-deleted")):
        assert result.returncode != 0
        assert "409 Conflict" in result.stderr
        assert f"It cannot be {action} except by an administrator" in result.stderr
    assert objects.get("deletedservers", name) is not None

    kubectl.run(
        "annotate", "deletedserver", name, "-n", namespace, "compute.serverops.io/restore=true"
    )
    restored = objects.wait_status("web-1", "ACTIVE")
    assert restored["spec"]["locked"] is True


@pytest.mark.parametrize(
    ("change", "field", "hint"),
    [
        (
            {"metadata": {"annotations": {"compute.serverops.io/reclaim-interval": "-5"}}},
            "compute.serverops.io/reclaim-interval",
            '"1h30m"',
        ),
        (
            {"spec": {"networks": [{"port": "prod/db-port"}]}},
            "spec.networks[0].port",
            "in its own namespace",
        ),
        (
            {"spec": {"networks": [{"port": "Not_A_Name"}]}},
            "spec.networks[0].port",
            "DNS subdomain",
        ),
        ({"spec": {"lockedReason": "x" * 300}}, "spec.lockedReason", "255"),
        (
            {"spec": {"networks": [{"network": "lan", "port": "shared"}]}},
            "spec.networks[0]",
            "oneOf",
        ),
    ],
)
def test_bad_input_gets_422(
    operator: OperatorProcess,
    alice: Kubectl,
    namespace: str,
    change: dict[str, Any],
    field: str,
    hint: str,
) -> None:
    manifest = server_manifest("bad-1", networks=[{"network": "lan"}])
    for section, values in change.items():
        target = manifest["spec"] if section == "spec" else manifest["metadata"]
        target.update(values)

    result = apply_as(alice, manifest, namespace)

    assert result.returncode != 0
    assert field in result.stderr
    assert hint in result.stderr


def test_attaching_bound_port_gets_422(
    operator: OperatorProcess,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    first = make_web(objects)

    result = apply_as(
        alice, server_manifest("web-2", networks=[{"port": "shared-web-1"}]), namespace
    )

    assert result.returncode != 0
    assert "spec.networks[0].port" in result.stderr
    assert first["metadata"]["uid"] in result.stderr


def test_duplicate_mac_gets_422(
    operator: OperatorProcess,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    objects.create(port_manifest("p1", mac="fa:16:3e:00:00:01"))
    wait_for(
        lambda: (objects.port("p1") or {}).get("status", {}).get("macAddress"),
        message="p1's MAC address",
    )

    result = apply_as(alice, port_manifest("p2", mac="FA:16:3E:00:00:01"), namespace)

    assert result.returncode != 0
    assert "spec.macAddress" in result.stderr
    assert f"{namespace}/p1" in result.stderr


def test_finalizer_holds_when_webhook_is_not_installed(
    operator: OperatorProcess,
    kubectl: Kubectl,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    make_web(objects, locked=True, locked_reason="backstop")
    kubectl.run("delete", "validatingwebhookconfiguration", "serverops.compute.serverops.io")
    try:
        alice.run("delete", "server", "web-1", "-n", namespace, "--wait=false")

        held = objects.wait_condition("web-1", "DeletionBlocked", status="True", reason="Locked")
        assert "backstop" in held["message"]
    finally:
        operator.stop()
        operator.start()
    blocked = objects.server("web-1")
    assert blocked is not None
    assert condition(blocked, "DeletionBlocked")["status"] == "True"


def test_webhook_down_delete_passes_and_finalizer_holds(
    operator: OperatorProcess, alice: Kubectl, objects: Objects, namespace: str
) -> None:
    make_web(objects, locked=True, locked_reason="outage")
    operator.kill()
    try:
        # failurePolicy Ignore: the API server lets the deletion through.
        alice.run("delete", "server", "web-1", "-n", namespace, "--wait=false")
        terminating = objects.server("web-1")
        assert terminating is not None
        assert terminating["metadata"].get("deletionTimestamp")
    finally:
        operator.start()

    held = objects.wait_condition("web-1", "DeletionBlocked", status="True", reason="Locked")
    assert "outage" in held["message"]


def test_webhook_down_create_fails_closed(
    operator: OperatorProcess, alice: Kubectl, objects: Objects, namespace: str
) -> None:
    manifest = server_manifest("web-1", networks=[{"network": "lan"}])
    operator.kill()
    try:
        # failurePolicy Fail: no Server is stored unchecked.
        result = apply_as(alice, manifest, namespace)
        assert result.returncode != 0
        assert "failed calling webhook" in result.stderr
        assert objects.server("web-1") is None
    finally:
        operator.start()

    apply_as(alice, manifest, namespace)
    objects.wait_status("web-1", "ACTIVE")


def test_deleted_server_record_cannot_change(
    operator: OperatorProcess, kubectl: Kubectl, alice: Kubectl, objects: Objects, namespace: str
) -> None:
    make_web(objects, annotations={"compute.serverops.io/reclaim-interval": "1h"}, locked=True)
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")
    record = objects.wait_deleted_server()

    for user in (alice, kubectl):
        result = user.run(
            "patch",
            "deletedserver",
            record["metadata"]["name"],
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"spec":{"server":{"locked":false}}}',
            check=False,
        )
        assert result.returncode != 0
        assert "a DeletedServer's spec is the record of a deleted server" in result.stderr


def test_record_of_live_server_is_refused(
    operator: OperatorProcess, alice: Kubectl, objects: Objects, namespace: str
) -> None:
    server = make_web(objects)
    record = {
        "apiVersion": "compute.serverops.io/v1alpha1",
        "kind": "DeletedServer",
        "metadata": {"name": "forged"},
        "spec": {
            "originalName": "web-1",
            "originalUID": server["metadata"]["uid"],
            "deletedAt": "2026-01-01T00:00:00Z",
            "reclaimAt": "2026-01-01T00:00:01Z",
            "server": server["spec"],
            "ports": server["status"]["ports"],
        },
    }

    result = apply_as(alice, record, namespace)

    assert result.returncode != 0
    assert "spec.originalUID" in result.stderr
    assert "that server exists" in result.stderr


def test_bound_port_cannot_change_network_or_mac(
    operator: OperatorProcess, alice: Kubectl, objects: Objects, namespace: str
) -> None:
    make_web(objects)

    for change in ({"macAddress": "fa:16:3e:12:34:56"}, {"network": "storage"}):
        result = alice.run(
            "patch",
            "port",
            "shared-web-1",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            json.dumps({"spec": change}),
            check=False,
        )
        assert result.returncode != 0
        assert "is bound to server web-1; detach it" in result.stderr


def test_multicast_mac_gets_422(operator: OperatorProcess, alice: Kubectl, namespace: str) -> None:
    result = apply_as(alice, port_manifest("p1", mac="ff:ff:ff:ff:ff:ff"), namespace)

    assert result.returncode != 0
    assert "multicast or broadcast" in result.stderr


def test_admin_lock_reason_cannot_be_changed_by_non_admin(
    operator: OperatorProcess, kubectl: Kubectl, alice: Kubectl, objects: Objects, namespace: str
) -> None:
    make_web(objects)
    kubectl.run(
        "patch",
        "server",
        "web-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"locked": True, "lockedReason": "audit"}}),
    )

    result = alice.run(
        "patch",
        "server",
        "web-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"lockedReason": "mine now"}}),
        check=False,
    )

    assert result.returncode != 0
    assert "can unlock it or change its reason" in result.stderr


def test_clean_stop_removes_webhook_configurations(
    operator: OperatorProcess, kubectl: Kubectl
) -> None:
    name = "serverops.compute.serverops.io"
    assert kubectl.run("get", "validatingwebhookconfiguration", name, check=False).returncode == 0

    operator.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    operator.process.wait(timeout=15)  # type: ignore[union-attr]
    try:
        for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
            assert kubectl.run("get", kind, name, check=False).returncode != 0
    finally:
        operator.start()
    assert kubectl.run("get", "validatingwebhookconfiguration", name, check=False).returncode == 0


def soft_delete_locked(kubectl: Kubectl, objects: Objects, namespace: str) -> dict[str, Any]:
    """Soft-delete a locked web-1 as an administrator; return its DeletedServer."""
    make_web(
        objects,
        annotations={"compute.serverops.io/reclaim-interval": "1h"},
        locked=True,
        locked_reason="Quarterly close",
    )
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")
    return objects.wait_deleted_server()


def test_forged_restored_from_takes_nothing(
    operator: OperatorProcess, kubectl: Kubectl, alice: Kubectl, objects: Objects, namespace: str
) -> None:
    record = soft_delete_locked(kubectl, objects, namespace)
    name = record["metadata"]["name"]
    marks = {"compute.serverops.io/restored-from": name}

    for server_name in ("evil", "web-1"):
        manifest = server_manifest(
            server_name, networks=[{"port": "shared-web-1"}], annotations=marks
        )
        result = apply_as(alice, manifest, namespace)

        assert result.returncode != 0
        assert "denied the request" in result.stderr
        assert f"only a restore of DeletedServer {namespace}/{name} may set it" in result.stderr
    remaining = objects.get("deletedservers", name)
    assert remaining is not None
    assert remaining["metadata"].get("deletionTimestamp") is None
    port = objects.port("shared-web-1") or {}
    assert port["status"]["server"]["uid"] == record["spec"]["originalUID"]


@pytest.mark.parametrize("value", ["yes", "True", "1"])
def test_bad_restore_value_gets_422(
    operator: OperatorProcess,
    kubectl: Kubectl,
    alice: Kubectl,
    objects: Objects,
    namespace: str,
    value: str,
) -> None:
    make_web(objects, annotations={"compute.serverops.io/reclaim-interval": "1h"})
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--timeout=10s")
    name = objects.wait_deleted_server()["metadata"]["name"]

    result = alice.run(
        "annotate",
        "deletedserver",
        name,
        "-n",
        namespace,
        f"compute.serverops.io/restore={value}",
        check=False,
    )

    assert result.returncode != 0
    assert f"Invalid value: '{value}'" in result.stderr
    assert 'set it to "true"' in result.stderr


def test_admin_delete_frees_held_purge(
    operator: OperatorProcess, kubectl: Kubectl, alice: Kubectl, objects: Objects, namespace: str
) -> None:
    record = soft_delete_locked(kubectl, objects, namespace)
    name = record["metadata"]["name"]
    operator.kill()
    try:
        # failurePolicy Ignore: the force delete slips past the missing webhook.
        alice.run("delete", "deletedserver", name, "-n", namespace, "--wait=false")
    finally:
        operator.start()
    wait_for(
        lambda: any(
            item["type"] == "DeletionBlocked" and item["status"] == "True"
            for item in (objects.get("deletedservers", name) or {})
            .get("status", {})
            .get("conditions", [])
        ),
        message="the purge to be held by the lock",
    )

    restore = kubectl.run(
        "annotate",
        "deletedserver",
        name,
        "-n",
        namespace,
        "compute.serverops.io/restore=true",
        check=False,
    )
    assert restore.returncode != 0
    assert "being purged and can no longer be restored" in restore.stderr

    kubectl.run("delete", "deletedserver", name, "-n", namespace, "--timeout=20s")
    assert objects.get("deletedservers", name) is None
    original = {
        "metadata": {"uid": record["spec"]["originalUID"]},
        "status": {"ports": record["spec"]["ports"]},
    }
    assert_freed(objects, original)


def test_forged_server_ends_restore_name_taken(
    operator: OperatorProcess, kubectl: Kubectl, alice: Kubectl, objects: Objects, namespace: str
) -> None:
    record = soft_delete_locked(kubectl, objects, namespace)
    name = record["metadata"]["name"]
    forged = server_manifest(
        "web-1",
        networks=[{"network": "lan"}],
        annotations={"compute.serverops.io/restored-from": name},
    )
    kubectl.run("delete", "validatingwebhookconfiguration", "serverops.compute.serverops.io")
    try:
        created = apply_as(alice, forged, namespace)
        assert created.returncode == 0, created.stderr
    finally:
        operator.stop()
        operator.start()

    kubectl.run(
        "annotate", "deletedserver", name, "-n", namespace, "compute.serverops.io/restore=true"
    )

    name_taken = objects.wait_condition(
        name, "Restored", status="False", reason="NameTaken", plural="deletedservers"
    )
    assert f"{namespace}/web-1" in name_taken["message"]
    remaining = objects.get("deletedservers", name)
    assert remaining is not None
    for port in record["spec"]["ports"]:
        bound = objects.port(port["name"]) or {}
        assert bound["status"]["server"]["uid"] == record["spec"]["originalUID"]
