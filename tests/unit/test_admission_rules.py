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


def check(new: dict[str, Any], old: dict[str, Any] | None = None, user: Any = ALICE) -> None:
    admission.check_server(
        new=new,
        old=old,
        userinfo=user,
        admin_groups=ADMINS,
        holder_of=lambda namespace, name: "u-other" if name == "taken" else None,
        approval_key=b"k" * 32,
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
