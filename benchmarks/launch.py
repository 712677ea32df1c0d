"""Start ``serverops`` as its CLI does, with optional benchmark-only changes to kopf.

- ``SERVEROPS_BENCH_KEEPALIVE=S`` makes kopf's cap on how long a held handler sleeps
  before it wakes up (10 minutes in kopf 1.45,
  ``kopf._core.actions.application.WAITING_KEEPALIVE_INTERVAL``) S seconds, so that a
  window of a minute covers several wake-ups of a held deletion.
- ``SERVEROPS_BENCH_SHARED_INDEX_WAIT=1`` tries the proposed fix of kopf's start-up
  cost (see :func:`share_toggle_waits`).
- ``SERVEROPS_BENCH_SETTINGS`` is a JSON object of kopf settings to override after
  ``build_settings()``, by dotted name, e.g. ``{"queueing.worker_limit": 100}``.
- ``SERVEROPS_BENCH_STORAGE=annotations`` puts kopf's default storages (handler progress
  and the last handled spec in annotations) back, to measure what the memory storages
  of :mod:`serverops.storages` save.

Without these variables this is exactly ``serverops``.
"""

import asyncio
import json
import os
from typing import Any

import kopf

from serverops import operating, storages
from serverops.cli import main


def share_toggle_waits() -> None:
    """Let all waiters of a kopf ``ToggleSet`` share one wait on its condition.

    In kopf 1.45 every object's worker waits, before its first handler runs, until the
    indexes of every object of the initial listing are filled
    (``operator_indexed.wait_for(True)`` in ``kopf/_core/reactor/processing.py``). Each
    object adds and drops a toggle, and each of those wakes every waiting worker to
    re-check the whole set, so the start-up costs O(N²) wake-ups for N objects. Here
    one task per set and state waits on the condition, and the workers await that
    task, which makes it O(N). The result of each wait is the same.
    """
    # NOTE: a kopf internal; checked against kopf 1.45.2 only.
    from kopf._cogs.aiokits import aiotoggles

    original = aiotoggles.ToggleSet.wait_for
    shared: dict[tuple[int, bool], asyncio.Future[Any]] = {}

    async def wait_for(self: aiotoggles.ToggleSet, state: bool) -> None:
        wanted = bool(state)
        while self.is_on() != wanted:
            key = (id(self), wanted)
            waiting = shared.get(key)
            if waiting is None or waiting.done():
                waiting = asyncio.ensure_future(original(self, wanted))
                shared[key] = waiting
            await asyncio.shield(waiting)

    aiotoggles.ToggleSet.wait_for = wait_for  # type: ignore[method-assign]


class AnnotationsProgress(storages.MemoryProgressStorage):
    """kopf's default progress storage behind the type that serverops checks for."""

    def __init__(self) -> None:
        super().__init__()
        self._inner = kopf.SmartProgressStorage()

    def fetch(self, *, key: kopf.HandlerId, body: kopf.Body) -> kopf.ProgressRecord | None:
        return self._inner.fetch(key=key, body=body)

    def store(
        self,
        *,
        key: kopf.HandlerId,
        record: kopf.ProgressRecord,
        body: kopf.Body,
        patch: kopf.Patch,
    ) -> None:
        self._inner.store(key=key, record=record, body=body, patch=patch)

    def purge(self, *, key: kopf.HandlerId, body: kopf.Body, patch: kopf.Patch) -> None:
        self._inner.purge(key=key, body=body, patch=patch)

    def touch(self, *, body: kopf.Body, patch: kopf.Patch, value: str | None) -> None:
        self._inner.touch(body=body, patch=patch, value=value)

    def clear(self, *, essence: kopf.BodyEssence) -> kopf.BodyEssence:
        return self._inner.clear(essence=essence)


class AnnotationsDiffBase(storages.MemoryDiffBaseStorage):
    """kopf's default diff-base storage behind the type that serverops checks for."""

    def __init__(self) -> None:
        super().__init__()
        self._inner = kopf.AnnotationsDiffBaseStorage()

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return self._inner.build(body=body, extra_fields=extra_fields)

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self._inner.fetch(body=body)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        self._inner.store(body=body, patch=patch, essence=essence)


def override_settings(overrides: dict[str, Any], *, annotations: bool) -> None:
    """Wrap ``build_settings()`` so that it applies the benchmark's overrides."""
    original = operating.build_settings

    def build_settings(*args: Any, **kwargs: Any) -> kopf.OperatorSettings:
        settings = original(*args, **kwargs)
        for dotted, value in overrides.items():
            group, name = dotted.split(".")
            setattr(getattr(settings, group), name, value)
        if annotations:
            settings.persistence.progress_storage = AnnotationsProgress()
            settings.persistence.diffbase_storage = AnnotationsDiffBase()
        return settings

    operating.build_settings = build_settings


if __name__ == "__main__":
    keepalive = os.environ.get("SERVEROPS_BENCH_KEEPALIVE")
    if keepalive:
        # NOTE: a kopf internal; checked against kopf 1.45.2 only.
        from kopf._core.actions import application

        application.WAITING_KEEPALIVE_INTERVAL = round(float(keepalive))
    if os.environ.get("SERVEROPS_BENCH_SHARED_INDEX_WAIT") == "1":
        share_toggle_waits()
    overrides = json.loads(os.environ.get("SERVEROPS_BENCH_SETTINGS") or "{}")
    annotations = os.environ.get("SERVEROPS_BENCH_STORAGE") == "annotations"
    if overrides or annotations:
        override_settings(overrides, annotations=annotations)
    main()
