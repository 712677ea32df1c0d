"""The admission rules as plain functions: lock checks, lock records and input checks."""

import datetime
from typing import Any

import kopf
import pytest

from serverops import admission

ADMINS = ("ops-admins", "system:masters")
ALICE = {"username": "alice", "groups": ["devs", "system:authenticated"]}
OLGA = {"username": "olga", "groups": ["ops-admins"]}


def server(*, locked: bool = False, reason: str = "", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Server",
        "metadata": {"name": "web-1", "namespace": "default", "uid": "u-1", "annotations": {}},
        "spec": {"flavor": "f", "image": "i", "locked": locked, "networks": []},
    }
    if reason:
        body["spec"]["lockedReason"] = reason
    body["metadata"]["annotations"].update(extra.get("annotations", {}))
    if "networks" in extra:
        body["spec"]["networks"] = extra["networks"]
    return body


def record(*, locked: bool = False, restore: str | None = None, **status: Any) -> dict[str, Any]:
    """A DeletedServer of web-1; the port "kept" is still bound to its old uid u-old."""
    annotations = {} if restore is None else {"compute.serverops.io/restore": restore}
    return {
        "kind": "DeletedServer",
        "metadata": {"name": "web-1-u-old", "namespace": "default", "annotations": annotations},
        "spec": {
            "originalName": "web-1",
            "originalUID": "u-old",
            "reclaimAt": "2026-01-01T00:00:00Z",
            "server": {"locked": locked},
        },
        "status": status,
    }


def check(
    new: dict[str, Any],
    old: dict[str, Any] | None = None,
    user: Any = ALICE,
    records: dict[str, dict[str, Any]] | None = None,
) -> None:
    holders = {"taken": "u-other", "kept": "u-old"}
    admission.check_server(
        new=new,
        old=old,
        userinfo=user,
        admin_groups=ADMINS,
        holder_of=lambda namespace, name: holders.get(name),
        record_of=lambda namespace, name: (records or {}).get(name),
        approval_key=b"k" * 32,
    )


def check_record(new: dict[str, Any], old: dict[str, Any] | None, user: Any = ALICE) -> None:
    admission.check_deleted_server(
        new=new, old=old, userinfo=user, admin_groups=ADMINS, live_server=lambda uid: ""
    )


def test_unlocked_delete_needs_nothing() -> None:
    assert not admission.check_server_deletion(old=server(), userinfo=ALICE, admin_groups=ADMINS)


def test_locked_delete_by_user_is_409_with_reason() -> None:
    with pytest.raises(kopf.AdmissionError) as caught:
        admission.check_server_deletion(
            old=server(locked=True, reason="Backup runs."), userinfo=ALICE, admin_groups=ADMINS
        )

    assert caught.value.code == 409
    assert "default/web-1 is locked: Backup runs." in str(caught.value)
    assert "ops-admins, system:masters" in str(caught.value)


def test_locked_delete_by_admin_needs_approval() -> None:
    assert admission.check_server_deletion(
        old=server(locked=True), userinfo=OLGA, admin_groups=ADMINS
    )


@pytest.mark.parametrize(
    ("networks", "text"),
    [
        ([{"network": "lan", "port": "p"}], "set exactly one of network"),
        ([{}], "set exactly one of network"),
        ([{"port": "prod/p"}], "in its own namespace (default)"),
        ([{"port": "Bad_Name"}], "DNS subdomain"),
        ([{"port": "taken"}], "bound to another server (uid u-other)"),
    ],
)
def test_bad_networks_are_422(networks: list[dict[str, str]], text: str) -> None:
    with pytest.raises(kopf.AdmissionError) as caught:
        check(server(networks=networks))

    assert caught.value.code == 422
    assert "spec.networks[0]" in str(caught.value)
    assert text in str(caught.value)


def test_bad_interval_is_422() -> None:
    with pytest.raises(kopf.AdmissionError) as caught:
        check(server(annotations={"compute.serverops.io/reclaim-interval": "soon"}))

    assert caught.value.code == 422
    assert "'soon'" in str(caught.value)


def test_admin_lock_cleared_by_user_is_403() -> None:
    old = server(
        locked=True,
        annotations={
            admission.ANNOTATION_LOCKED_BY_ADMIN: "true",
            admission.ANNOTATION_LOCKED_BY: "olga",
        },
    )

    with pytest.raises(kopf.AdmissionError) as caught:
        check(server(locked=False), old=old)

    assert caught.value.code == 403
    assert "locked by the administrator olga" in str(caught.value)
    check(server(locked=False), old=old, user=OLGA)


def test_locker_is_recorded_and_kept() -> None:
    patch = kopf.Patch()
    admission.record_locker(
        new=server(locked=True), old=server(), userinfo=OLGA, admin_groups=ADMINS, patch=patch
    )
    assert patch["metadata"]["annotations"] == {
        admission.ANNOTATION_LOCKED_BY: "olga",
        admission.ANNOTATION_LOCKED_BY_ADMIN: "true",
    }

    recorded = {
        admission.ANNOTATION_LOCKED_BY: "olga",
        admission.ANNOTATION_LOCKED_BY_ADMIN: "true",
    }
    forged = {
        admission.ANNOTATION_LOCKED_BY: "alice",
        admission.ANNOTATION_LOCKED_BY_ADMIN: "false",
    }
    patch = kopf.Patch()
    admission.record_locker(
        new=server(locked=True, annotations=forged),
        old=server(locked=True, annotations=recorded),
        userinfo=ALICE,
        admin_groups=ADMINS,
        patch=patch,
    )
    assert patch["metadata"]["annotations"] == recorded


def test_reclaim_of_locked_record_passes() -> None:
    record = {
        "kind": "DeletedServer",
        "metadata": {"name": "web-1-u", "namespace": "default"},
        "spec": {
            "originalName": "web-1",
            "reclaimAt": "2026-01-01T00:00:00Z",
            "server": {"locked": True},
        },
        "status": {},
    }
    before = datetime.datetime(2025, 12, 31, tzinfo=datetime.UTC)
    after = datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)

    assert not admission.check_deleted_server_deletion(
        old=record, userinfo=ALICE, admin_groups=ADMINS, now=after
    )
    with pytest.raises(kopf.AdmissionError) as caught:
        admission.check_deleted_server_deletion(
            old=record, userinfo=ALICE, admin_groups=ADMINS, now=before
        )
    assert caught.value.code == 409
    assert "force-deleted" in str(caught.value)


def test_restore_takes_ports_of_its_record() -> None:
    marked = server(
        networks=[{"port": "kept"}],
        annotations={"compute.serverops.io/restored-from": "web-1-u-old"},
    )

    check(marked, records={"web-1-u-old": record(restore="true")})


@pytest.mark.parametrize(
    ("name", "restore"),
    [("evil", "true"), ("web-1", None)],
    ids=["other-name", "not-requested"],
)
def test_forged_restored_from_is_422(name: str, restore: str | None) -> None:
    forged = server(
        networks=[{"port": "kept"}],
        annotations={"compute.serverops.io/restored-from": "web-1-u-old"},
    )
    forged["metadata"]["name"] = name

    with pytest.raises(kopf.AdmissionError) as caught:
        check(forged, records={"web-1-u-old": record(restore=restore)})

    assert caught.value.code == 422
    assert "only a restore of DeletedServer default/web-1-u-old may set it" in str(caught.value)


def test_kept_restored_from_is_no_claim() -> None:
    marks = {"compute.serverops.io/restored-from": "web-1-u-old"}
    earlier = server(networks=[{"network": "lan"}], annotations=marks)
    edited = server(networks=[{"network": "lan"}, {"port": "kept"}], annotations=marks)

    with pytest.raises(kopf.AdmissionError) as caught:
        check(edited, old=earlier, records={})

    assert caught.value.code == 422
    assert "bound to another server (uid u-old)" in str(caught.value)


@pytest.mark.parametrize("value", ["yes", "True", "1", " true"])
def test_bad_restore_value_is_422(value: str) -> None:
    with pytest.raises(kopf.AdmissionError) as caught:
        check_record(record(restore=value), record())

    assert caught.value.code == 422
    assert repr(value) in str(caught.value)
    assert 'set it to "true"' in str(caught.value)


def test_restore_of_purged_record_is_409() -> None:
    deleting = record()
    deleting["metadata"]["deletionTimestamp"] = "2025-12-01T00:00:00Z"

    with pytest.raises(kopf.AdmissionError) as caught:
        check_record(record(restore="true"), deleting, user=OLGA)

    assert caught.value.code == 409
    assert "being purged" in str(caught.value)


def test_restore_under_way_cannot_be_withdrawn() -> None:
    running = record(restore="true", taskState="restoring")

    with pytest.raises(kopf.AdmissionError) as caught:
        check_record(record(taskState="restoring"), running)

    assert caught.value.code == 422
    assert "under way" in str(caught.value)


def test_locked_restore_by_user_is_409() -> None:
    with pytest.raises(kopf.AdmissionError) as caught:
        check_record(record(locked=True, restore="true"), record(locked=True))

    assert caught.value.code == 409
    assert "ask an administrator to restore it" in str(caught.value)
    assert "reclaim" not in str(caught.value)


def test_forged_restoring_status_is_no_pass() -> None:
    forged = record(locked=True, taskState="restoring")
    before = datetime.datetime(2025, 12, 31, tzinfo=datetime.UTC)

    with pytest.raises(kopf.AdmissionError) as caught:
        admission.check_deleted_server_deletion(
            old=forged, userinfo=ALICE, admin_groups=ADMINS, now=before
        )

    assert caught.value.code == 409
