"""Signed deletion approvals: only the key's holder writes them, for one uid and moment."""

import datetime

from serverops import approvals

KEY = b"k" * 32
AT = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def test_roundtrip() -> None:
    approval = approvals.Approval(user="olga", uid="u-1", at=AT)

    decoded = approvals.decode(approval.encode(KEY), KEY)

    assert decoded == approval


def test_other_key_is_rejected() -> None:
    text = approvals.Approval(user="olga", uid="u-1", at=AT).encode(KEY)

    assert approvals.decode(text, b"x" * 32) is None


def test_tampered_user_is_rejected() -> None:
    text = approvals.Approval(user="olga", uid="u-1", at=AT).encode(KEY)

    assert approvals.decode(text.replace("olga", "mallory"), KEY) is None


def test_garbage_is_rejected() -> None:
    assert approvals.decode("not json", KEY) is None
    assert approvals.decode('{"user": "x"}', KEY) is None


def test_window_covers_only_the_deletion_just_after() -> None:
    approval = approvals.Approval(user="olga", uid="u-1", at=AT)
    second = datetime.timedelta(seconds=1)

    assert approvals.approves(approval, uid="u-1", deleted_at=AT + second)
    assert approvals.approves(approval, uid="u-1", deleted_at=AT - second)
    assert not approvals.approves(approval, uid="u-2", deleted_at=AT)
    assert not approvals.approves(approval, uid="u-1", deleted_at=AT + approvals.WINDOW + second)
    assert not approvals.approves(None, uid="u-1", deleted_at=AT)


def test_approval_after_held_deletion_approves() -> None:
    approval = approvals.Approval(user="olga", uid="u-1", at=AT)
    began = AT - datetime.timedelta(days=3)

    assert approvals.approves(approval, uid="u-1", deleted_at=began)
