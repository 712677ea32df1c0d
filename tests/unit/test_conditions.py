"""Conditions keep their transition time unless their status flips."""

import datetime

from serverops import conditions

EARLY = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
LATE = datetime.datetime(2026, 1, 1, 13, 0, 0, tzinfo=datetime.UTC)


def test_new_condition_gets_transition_time() -> None:
    listed = conditions.with_condition(
        [], kind="Ready", status=True, reason="Active", message="m", generation=3, clock=EARLY
    )

    assert listed == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Active",
            "message": "m",
            "lastTransitionTime": "2026-01-01T12:00:00Z",
            "observedGeneration": 3,
        }
    ]


def test_same_status_keeps_transition_time() -> None:
    first = conditions.with_condition(
        [], kind="Ready", status=False, reason="Building", message="a", generation=1, clock=EARLY
    )

    second = conditions.with_condition(
        first, kind="Ready", status=False, reason="Error", message="b", generation=2, clock=LATE
    )

    assert second[0]["lastTransitionTime"] == "2026-01-01T12:00:00Z"
    assert second[0]["reason"] == "Error"
    assert second[0]["observedGeneration"] == 2


def test_flipped_status_moves_transition_time() -> None:
    first = conditions.with_condition(
        [], kind="Ready", status=False, reason="Building", message="a", generation=1, clock=EARLY
    )

    second = conditions.with_condition(
        first, kind="Ready", status=True, reason="Active", message="b", generation=1, clock=LATE
    )

    assert second[0]["lastTransitionTime"] == "2026-01-01T13:00:00Z"


def test_other_conditions_keep_their_place() -> None:
    listed = [{"type": "Ready", "status": "True"}, {"type": "DeletionBlocked", "status": "False"}]

    updated = conditions.with_condition(
        listed, kind="Ready", status=False, reason="Deleting", message="x", generation=None
    )

    assert [condition["type"] for condition in updated] == ["Ready", "DeletionBlocked"]
    assert "observedGeneration" not in updated[0]
    assert conditions.is_true(updated, "DeletionBlocked") is False
