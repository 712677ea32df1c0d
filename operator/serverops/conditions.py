"""Status conditions in the standard Kubernetes shape, and changes to them.

A condition's ``lastTransitionTime`` moves only when its ``status`` flips, as the API
conventions ask, so rewriting the same condition is a no-op that callers can skip.
"""

import datetime
from typing import Any

Condition = dict[str, Any]


def now_rfc3339(clock: datetime.datetime | None = None) -> str:
    moment = clock or datetime.datetime.now(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def find(conditions: list[Condition], kind: str) -> Condition | None:
    for condition in conditions:
        if condition.get("type") == kind:
            return condition
    return None


def is_true(conditions: list[Condition], kind: str) -> bool:
    condition = find(conditions, kind)
    return condition is not None and condition.get("status") == "True"


def with_condition(
    conditions: list[Condition],
    *,
    kind: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
    clock: datetime.datetime | None = None,
) -> list[Condition]:
    """Return a copy of ``conditions`` with the condition of type ``kind`` set as given."""
    status_text = "True" if status else "False"
    previous = find(conditions, kind)
    changed_status = previous is None or previous.get("status") != status_text
    transition_time = (
        now_rfc3339(clock)
        if changed_status or previous is None
        else previous.get("lastTransitionTime", now_rfc3339(clock))
    )

    condition: Condition = {
        "type": kind,
        "status": status_text,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition_time,
    }
    if generation is not None:
        condition["observedGeneration"] = generation

    others = [existing for existing in conditions if existing.get("type") != kind]
    position = next(
        (index for index, existing in enumerate(conditions) if existing.get("type") == kind),
        len(others),
    )
    return others[:position] + [condition] + others[position:]
