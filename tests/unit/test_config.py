"""Operator settings reject values that make no sense, naming the flag."""

import pytest

from serverops.config import ConfigurationError, OperatorConfig


def test_defaults_are_valid() -> None:
    config = OperatorConfig()

    assert config.retry_delay > 0


def test_negative_seconds_name_the_flag() -> None:
    with pytest.raises(ConfigurationError, match=r"--retry-delay -1\.0"):
        OperatorConfig(retry_delay=-1.0)
