"""The operator's settings, read once at start-up from command-line flags and the environment.

Each field has an environment variable with the ``SERVEROPS_`` prefix; the CLI flag of the
same name wins over it.
"""

import dataclasses
import datetime

from serverops import approvals


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

    admin_groups: tuple[str, ...] = ("system:masters",)
    """Groups whose members may delete, restore or force-delete a locked server."""

    approval_key: bytes = dataclasses.field(default_factory=approvals.new_key, repr=False)
    """The key that signs administrators' approvals; every replica needs the same one."""

    webhook_port: int = 0
    """The port of the admission webhook server; 0 runs none."""

    webhook_address: str = "127.0.0.1"
    """The address the webhook server listens on."""

    webhook_host: str = ""
    """The name or address the API server calls the webhook at; empty means the address."""

    webhook_cert_file: str = ""
    """The webhook's TLS certificate (PEM); empty generates a self-signed one."""

    webhook_key_file: str = ""
    """The private key of ``webhook_cert_file`` (PEM)."""

    webhook_configure: bool = False
    """Whether the operator installs the webhook configurations itself (local runs)."""

    metrics_port: int = 0
    """The port of the Prometheus ``/metrics`` endpoint; 0 serves none."""

    metrics_address: str = "127.0.0.1"
    """The address the metrics endpoint listens on."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if value < 0 or value != value or value == float("inf"):
                flag = "--" + field.name.replace("_", "-")
                raise ConfigurationError(
                    f"Invalid {flag} {value:g}: expected a finite number, 0 or more."
                )
        for flag, port in (
            ("--webhook-port", self.webhook_port),
            ("--metrics-port", self.metrics_port),
        ):
            if not 0 <= port <= 65535:
                raise ConfigurationError(f"Invalid {flag} {port}: expected 0 (off) to 65535.")
        if bool(self.webhook_cert_file) != bool(self.webhook_key_file):
            raise ConfigurationError(
                "Invalid webhook TLS settings: give both --webhook-cert-file and "
                "--webhook-key-file, or neither to generate a self-signed certificate."
            )
