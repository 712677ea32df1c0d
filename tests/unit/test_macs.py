"""MAC address generation and normalisation."""

import random

import pytest

from serverops import macs


def test_generated_address_has_prefix_and_is_valid() -> None:
    mac = macs.generate(in_use=lambda _: False, rng=random.Random(1))

    assert mac.startswith("fa:16:3e:")
    assert macs.is_valid(mac)


def test_generation_skips_addresses_in_use() -> None:
    taken = {macs.generate(in_use=lambda _: False, rng=random.Random(7))}

    mac = macs.generate(in_use=taken.__contains__, rng=random.Random(7))

    assert mac not in taken


def test_generation_gives_up_when_everything_is_taken() -> None:
    with pytest.raises(macs.AddressSpaceExhausted, match="fa:16:3e"):
        macs.generate(in_use=lambda _: True)


def test_normalize_lowercases() -> None:
    assert macs.normalize(" FA:16:3E:0A:0B:0C ") == "fa:16:3e:0a:0b:0c"
    assert not macs.is_valid("fa:16:3e:0a:0b")
