"""Kopf's handler bookkeeping, kept in the operator's memory instead of on the objects.

By default kopf writes each handler's progress and the last handled spec as annotations
on the object: a write per handler step, and two writes per retry (the progress, then a
dummy "touch" to wake itself up). serverops keeps its durable state in the objects
themselves (the Server's status, the Port objects and their labels), and every handler
is idempotent, so that bookkeeping buys nothing. Losing it on a restart only means that
each handler runs once more, which it must survive anyway.

Two behaviours differ from kopf's stock storages, on purpose:

- A handler that asked for a delay is retried as soon as any new event arrives for its
  object, instead of when the delay ends. A deletion held by a lock therefore resumes
  the moment the lock is cleared, while the delay only bounds how long the operator
  waits when nothing happens.
- A handler that waits for a change of its object rather than for time raises with the
  delay :data:`UNTIL_NEXT_EVENT`. kopf caps its sleep at 10 minutes and then touches
  the object to wake itself up; for such a handler the touch is skipped, because only
  an event can change its outcome. Any other delay keeps kopf's behaviour, so a delay
  above 10 minutes costs one touch every 10 minutes.

Both storages forget an object when :func:`forget` is called for its uid, which the
handlers do when they see the object gone.
"""

import copy
import datetime
from typing import Any

import kopf

from serverops import constants

_RecordKey = tuple[str, str]

# The delay for a handler that waits for a change of its object rather than for time:
# above kopf's 10-minute sleep cap, it means "until the next event" (see above).
UNTIL_NEXT_EVENT = 24 * 60 * 60.0


class MemoryProgressStorage(kopf.ProgressStorage):
    """Handler progress in a dict keyed by the object's uid and the handler's id."""

    def __init__(self) -> None:
        super().__init__()
        self._records: dict[_RecordKey, kopf.ProgressRecord] = {}

    def fetch(self, *, key: kopf.HandlerId, body: kopf.Body) -> kopf.ProgressRecord | None:
        record = self._records.get((_uid(body), key))
        if record is None:
            return None

        # Without "delayed", kopf treats the handler as awake and runs it on this event.
        awake = copy.copy(record)
        awake.pop("delayed", None)
        return awake

    def store(
        self,
        *,
        key: kopf.HandlerId,
        record: kopf.ProgressRecord,
        body: kopf.Body,
        patch: kopf.Patch,
    ) -> None:
        self._records[(_uid(body), key)] = copy.deepcopy(record)

    def purge(self, *, key: kopf.HandlerId, body: kopf.Body, patch: kopf.Patch) -> None:
        self._records.pop((_uid(body), key), None)

    def touch(self, *, body: kopf.Body, patch: kopf.Patch, value: str | None) -> None:
        annotations = body.metadata.annotations

        # kopf calls this with None to clean the marker up when it patches anyway.
        if value is None:
            if constants.ANNOTATION_RETRY in annotations:
                patch.metadata.annotations[constants.ANNOTATION_RETRY] = None
            return

        if not self._waits_for_event(uid=_uid(body)):
            patch.metadata.annotations[constants.ANNOTATION_RETRY] = value

    def clear(self, *, essence: kopf.BodyEssence) -> kopf.BodyEssence:
        return _without_retry_annotation(super().clear(essence=essence))

    def forget(self, uid: str) -> None:
        """Drop every record of the object with this uid."""
        for record_key in [record_key for record_key in self._records if record_key[0] == uid]:
            del self._records[record_key]

    def _waits_for_event(self, *, uid: str) -> bool:
        # Half of UNTIL_NEXT_EVENT leaves room for the time spent since the delay was set.
        horizon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
            seconds=UNTIL_NEXT_EVENT / 2
        )
        for (record_uid, _), record in self._records.items():
            delayed = record.get("delayed")
            if record_uid == uid and delayed is not None:
                if datetime.datetime.fromisoformat(delayed) > horizon:
                    return True
        return False


class MemoryDiffBaseStorage(kopf.DiffBaseStorage):
    """The last handled essence of each object, keyed by uid.

    After a restart the memory is empty, so kopf treats every object as new and runs
    its creation handler once, which reconciles instead of creating twice.
    """

    def __init__(self) -> None:
        super().__init__()
        self._essences: dict[str, kopf.BodyEssence] = {}

    def build(
        self,
        *,
        body: kopf.Body,
        extra_fields: Any = None,
    ) -> kopf.BodyEssence:
        essence = super().build(body=body, extra_fields=extra_fields)
        return _without_retry_annotation(essence)

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self._essences.get(_uid(body))

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        self._essences[_uid(body)] = copy.deepcopy(essence)

    def forget(self, uid: str) -> None:
        """Drop the essence of the object with this uid."""
        self._essences.pop(uid, None)


def _uid(body: kopf.Body) -> str:
    return str(body.metadata.uid)


def _without_retry_annotation(essence: kopf.BodyEssence) -> kopf.BodyEssence:
    annotations = essence.get("metadata", {}).get("annotations")
    if not annotations or constants.ANNOTATION_RETRY not in annotations:
        return essence

    trimmed: Any = copy.deepcopy(essence)
    del trimmed["metadata"]["annotations"][constants.ANNOTATION_RETRY]
    if not trimmed["metadata"]["annotations"]:
        del trimmed["metadata"]["annotations"]
    if not trimmed["metadata"]:
        del trimmed["metadata"]
    result: kopf.BodyEssence = trimmed
    return result
