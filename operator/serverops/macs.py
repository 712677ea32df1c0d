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
