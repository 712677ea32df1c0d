"""Reclaim intervals: how long a soft-deleted server stays restorable.

Two forms are accepted: whole seconds, as Nova's ``reclaim_instance_interval`` takes them
(``"3600"``), or a duration made of whole numbers with the units d, h, m and s, largest
first (``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"``). ``"0"`` means no soft delete: the
server is hard-deleted at once.
"""

import datetime
import re

ACCEPTED_FORMS = (
    'whole seconds such as "3600", or a duration such as "90s", "15m", "1h30m" or "2d"; '
    '"0" turns soft delete off'
)

# Ten years; a longer interval is almost surely a typo, and it keeps every reclaim time
# far inside what datetime can hold.
MAX_SECONDS = 10 * 365 * 24 * 60 * 60

_SECONDS = re.compile(r"^[0-9]+$")
_DURATION = re.compile(
    r"^(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?$"
)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class InvalidInterval(ValueError):
    """A reclaim interval that cannot be used; the message names the value and the forms."""


def parse(text: str, *, source: str) -> datetime.timedelta:
    """Parse a reclaim interval; ``source`` names where it came from, for the message."""
    value = text.strip()
    if _SECONDS.match(value):
        seconds = int(value)
    else:
        match = _DURATION.match(value)
        if not value or match is None or not any(match.groupdict().values()):
            raise InvalidInterval(
                f"Invalid reclaim interval {text!r} in {source}: expected {ACCEPTED_FORMS}."
            )
        seconds = sum(
            int(amount) * _UNIT_SECONDS[unit]
            for unit, amount in match.groupdict().items()
            if amount is not None
        )

    if seconds > MAX_SECONDS:
        raise InvalidInterval(
            f"Invalid reclaim interval {text!r} in {source}: it is longer than the maximum "
            f"of {MAX_SECONDS} seconds (10 years); expected {ACCEPTED_FORMS}."
        )
    return datetime.timedelta(seconds=seconds)


def format_seconds(interval: datetime.timedelta) -> str:
    """Return the interval as the whole-seconds form, as Nova writes it."""
    return str(int(interval.total_seconds()))
