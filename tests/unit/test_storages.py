"""kopf's handler bookkeeping kept in memory: wake-ups on events, touches only when due."""

import datetime

import kopf

from serverops import constants
from serverops.storages import UNTIL_NEXT_EVENT, MemoryDiffBaseStorage, MemoryProgressStorage


def body(*, annotations: dict[str, str] | None = None) -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "compute.serverops.io/v1alpha1",
            "kind": "Server",
            "metadata": {
                "name": "web-1",
                "namespace": "default",
                "uid": "u-1",
                **({"annotations": annotations} if annotations else {}),
            },
            "spec": {"flavor": "m1.small", "image": "cirros"},
        }
    )


def at(seconds_from_now: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat()


def test_fetch_drops_delay_so_events_wake_handler() -> None:
    storage = MemoryProgressStorage()
    record = kopf.ProgressRecord(retries=2, delayed=at(3600), success=False)

    storage.store(key=kopf.HandlerId("delete"), record=record, body=body(), patch=kopf.Patch())
    fetched = storage.fetch(key=kopf.HandlerId("delete"), body=body())

    assert fetched is not None
    assert "delayed" not in fetched
    assert fetched["retries"] == 2


def test_touch_skipped_for_handler_waiting_for_event() -> None:
    storage = MemoryProgressStorage()
    record = kopf.ProgressRecord(delayed=at(UNTIL_NEXT_EVENT))
    storage.store(key=kopf.HandlerId("delete"), record=record, body=body(), patch=kopf.Patch())
    patch = kopf.Patch()

    storage.touch(body=body(), patch=patch, value="2026-01-01T00:00:00")

    assert not patch


def test_touch_kept_for_long_finite_delay() -> None:
    storage = MemoryProgressStorage()
    record = kopf.ProgressRecord(delayed=at(3600))
    storage.store(key=kopf.HandlerId("purge"), record=record, body=body(), patch=kopf.Patch())
    patch = kopf.Patch()

    storage.touch(body=body(), patch=patch, value="2026-01-01T00:00:00")

    assert patch["metadata"]["annotations"][constants.ANNOTATION_RETRY] == "2026-01-01T00:00:00"


def test_touch_without_pending_delay_writes_annotation() -> None:
    storage = MemoryProgressStorage()
    record = kopf.ProgressRecord(delayed=at(-1))
    storage.store(key=kopf.HandlerId("delete"), record=record, body=body(), patch=kopf.Patch())
    patch = kopf.Patch()

    storage.touch(body=body(), patch=patch, value="2026-01-01T00:00:00")

    assert patch["metadata"]["annotations"][constants.ANNOTATION_RETRY] == "2026-01-01T00:00:00"


def test_cleanup_touch_removes_existing_annotation() -> None:
    storage = MemoryProgressStorage()
    patch = kopf.Patch()

    storage.touch(body=body(annotations={constants.ANNOTATION_RETRY: "x"}), patch=patch, value=None)

    assert patch["metadata"]["annotations"][constants.ANNOTATION_RETRY] is None


def test_forget_drops_records_of_one_object() -> None:
    storage = MemoryProgressStorage()
    storage.store(
        key=kopf.HandlerId("delete"), record=kopf.ProgressRecord(), body=body(), patch=kopf.Patch()
    )

    storage.forget("u-1")

    assert storage.fetch(key=kopf.HandlerId("delete"), body=body()) is None


def test_essence_ignores_retry_annotation() -> None:
    storage = MemoryDiffBaseStorage()

    plain = storage.build(body=body())
    touched = storage.build(body=body(annotations={constants.ANNOTATION_RETRY: "now"}))

    assert plain == touched


def test_essence_keeps_other_annotations() -> None:
    storage = MemoryDiffBaseStorage()

    essence = storage.build(body=body(annotations={"team": "a", constants.ANNOTATION_RETRY: "1"}))

    assert essence["metadata"]["annotations"] == {"team": "a"}


def test_diffbase_store_fetch_forget() -> None:
    storage = MemoryDiffBaseStorage()
    essence = storage.build(body=body())

    storage.store(body=body(), patch=kopf.Patch(), essence=essence)
    fetched = storage.fetch(body=body())
    storage.forget("u-1")

    assert fetched == essence
    assert storage.fetch(body=body()) is None
