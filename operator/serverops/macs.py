"""MAC addresses for ports: generated ones and the checks on the ones users give."""

import random
import re
from collections.abc import Callable

# Neutron's default base_mac prefix (fa:16:3e), a locally administered unicast range.
PREFIX = "fa:16:3e"

_MAC_PATTERN = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

# Retries before giving up on finding a free address; with 2^24 addresses per prefix a
# second try is already rare.
_MAX_ATTEMPTS = 64


class AddressSpaceExhausted(RuntimeError):
    """No free MAC address was found after many random tries."""


def normalize(mac: str) -> str:
    """Return ``mac`` in lower case, the form the operator stores and compares."""
    return mac.strip().lower()


def is_valid(mac: str) -> bool:
    return bool(_MAC_PATTERN.match(normalize(mac)))


def problem_with(mac: str) -> str:
    """Return why ``mac`` cannot be a port's address, or '' when it can.

    A port needs a unicast address: the lowest bit of the first octet clear (so not a
    multicast or broadcast address), and not all zeros. Neutron refuses the same ones.
    """
    if not is_valid(mac):
        return "it is not six colon-separated pairs of hex digits"
    if int(normalize(mac)[:2], 16) & 1:
        return "it is a multicast or broadcast address; a port needs a unicast one"
    if normalize(mac) == "00:00:00:00:00:00":
        return "it is all zeros"
    return ""


def generate(*, in_use: Callable[[str], bool], rng: random.Random | None = None) -> str:
    """Return a random address under :data:`PREFIX` for which ``in_use`` is false."""
    source = rng or random.SystemRandom()
    for _ in range(_MAX_ATTEMPTS):
        suffix = ":".join(f"{source.randrange(256):02x}" for _ in range(3))
        candidate = f"{PREFIX}:{suffix}"
        if not in_use(candidate):
            return candidate
    raise AddressSpaceExhausted(
        f"Failed to find a free MAC address under {PREFIX} after {_MAX_ATTEMPTS} tries."
    )
