"""What the handlers share in one operator process: settings, API access, the two sides."""

import dataclasses
import datetime
from collections.abc import Callable

import kopf

from serverops import kubeapi
from serverops.compute import Compute
from serverops.config import OperatorConfig
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
    live_servers: Callable[[str], bool] = lambda uid: False
    """Whether a Server with this uid exists and is not being deleted, as the watch sees it."""
    clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    """The current time, aware and in UTC; tests may pass another."""


MEMO_KEY = "serverops_runtime"


def of(memo: kopf.Memo) -> Runtime:
    """Return the runtime that the start-up handler stored in ``memo``."""
    runtime = memo.get(MEMO_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("The serverops runtime is missing: the start-up handler did not run.")
    return runtime
