"""What the handlers share in one operator process: settings, API access, the two sides."""

import dataclasses
import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING

import kopf

from serverops import kubeapi
from serverops.compute import Compute
from serverops.config import OperatorConfig
from serverops.lookups import Kind
from serverops.ports import KubernetesPorts
from serverops.storages import MemoryDiffBaseStorage, MemoryProgressStorage


@dataclasses.dataclass
class Runtime:
    """The objects every handler needs, built once at start-up and kept in kopf's memo."""

    config: OperatorConfig
    servers: kubeapi.CustomObjects
    ports: kubeapi.CustomObjects
    deleted_servers: kubeapi.CustomObjects
    compute: Compute
    network: KubernetesPorts
    """The network side; building and deleting use only its :class:`Network` methods."""
    progress: MemoryProgressStorage
    diffbase: MemoryDiffBaseStorage
    tables: "Tables"
    kinds: dict[str, Kind]
    """The kinds whose watch events feed the tables, by plural."""
    live_servers: Callable[[str], str] = lambda uid: ""
    """The name of the Server with this uid if it exists and is not being deleted, as the
    watch sees it; '' otherwise."""
    finished_restores: dict[str, str] = dataclasses.field(default_factory=dict)
    """The uids of the DeletedServers whose restore this process finished, each with the
    name of the Server it made, so that their purge frees nothing without a read."""
    clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    """The current time, aware and in UTC; tests may pass another."""


if TYPE_CHECKING:
    from serverops.tables import Tables

MEMO_KEY = "serverops_runtime"


def of(memo: kopf.Memo) -> Runtime:
    """Return the runtime that the start-up handler stored in ``memo``."""
    runtime = memo.get(MEMO_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("The serverops runtime is missing: the start-up handler did not run.")
    return runtime
