"""
A local, in-memory Kubernetes API server for tests and local development.

It answers the kube-apiserver HTTP API that kopf, kubectl and the ``kubernetes``
clients use, with the semantics recorded from a real control plane: resourceVersions,
finalizers, watches, CRD schemas, garbage collection and namespace deletion. See
``docs/apiserver.md`` for what is covered and what is not.
"""

from serverops.apiserver.clock import Clock, FakeClock, SystemClock
from serverops.apiserver.faults import FaultRule
from serverops.apiserver.server import LocalAPIServer, ThreadedAPIServer, serve_forever
from serverops.apiserver.stats import RequestKey, RequestStats

__all__ = [
    "Clock",
    "FakeClock",
    "FaultRule",
    "LocalAPIServer",
    "RequestKey",
    "RequestStats",
    "SystemClock",
    "ThreadedAPIServer",
    "serve_forever",
]
