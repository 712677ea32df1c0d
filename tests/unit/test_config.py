"""Operator settings reject values that make no sense, naming the flag."""

import pytest

from serverops.config import ConfigurationError, OperatorConfig


def test_defaults_are_valid() -> None:
    config = OperatorConfig()

    assert config.retry_delay > 0


def test_negative_seconds_name_the_flag() -> None:
    with pytest.raises(ConfigurationError, match=r"--retry-delay -1:"):
        OperatorConfig(retry_delay=-1.0)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_seconds_are_rejected(value: float) -> None:
    with pytest.raises(ConfigurationError, match="finite"):
        OperatorConfig(retry_delay=value)
