"""Reclaim intervals: Nova's whole seconds, durations, and every invalid form."""

import datetime

import pytest

from serverops import intervals


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("3600", 3600),
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1d2h3m4s", 93784),
        (" 45 ", 45),
    ],
)
def test_accepted_forms(text: str, seconds: int) -> None:
    assert intervals.parse(text, source="test") == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["-5", "abc", "", "1.5h", "5x", "h", "30m1h", "1 h", "-1m", "1e3"])
def test_invalid_forms_name_value_and_forms(text: str) -> None:
    with pytest.raises(intervals.InvalidInterval) as caught:
        intervals.parse(text, source="annotation x")

    message = str(caught.value)
    assert repr(text) in message
    assert "annotation x" in message
    assert '"1h30m"' in message


@pytest.mark.parametrize("text", ["99999999999999999999", "4000d", "99999999999d"])
def test_overflow_is_invalid(text: str) -> None:
    with pytest.raises(intervals.InvalidInterval, match="maximum"):
        intervals.parse(text, source="test")


def test_format_seconds() -> None:
    assert intervals.format_seconds(datetime.timedelta(hours=1)) == "3600"
