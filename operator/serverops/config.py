"""The operator's settings, read once at start-up from command-line flags and the environment.

Each field has an environment variable with the ``SERVEROPS_`` prefix; the CLI flag of the
same name wins over it.
"""

import dataclasses
import datetime


class ConfigurationError(ValueError):
    """A setting has a value the operator cannot use; the message names the setting."""


@dataclasses.dataclass(frozen=True)
class OperatorConfig:
    """Settings of one operator process."""

    local_boot_seconds: float = 0.0
    """How long the local compute driver takes to boot a server (BUILD until then), in seconds."""

    retry_delay: float = 2.0
    """Seconds to wait before retrying a step that failed on a transient API error."""

    port_release_poll: float = 1.0
    """Seconds between checks for a deleted port that another controller's finalizer holds."""

    reclaim_interval: datetime.timedelta = datetime.timedelta(0)
    """How long a deleted server stays restorable when it has no annotation; 0 is off."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float):
                continue
            if value < 0:
                flag = "--" + field.name.replace("_", "-")
                raise ConfigurationError(
                    f"Invalid {flag} {value!r}: expected a number of seconds, 0 or more."
                )
