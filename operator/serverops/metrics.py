"""Prometheus metrics of the operator, served at ``/metrics`` by prometheus-client.

Gauges of servers by status and of blocked deletions are computed at scrape time from the
operator's watch-fed indexes, so keeping them costs nothing between scrapes. Counters and
histograms are updated where the work happens.
"""

import logging
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

DELETIONS = Counter(
    "serverops_deletions_total",
    "Deletions by outcome: hard_deleted, soft_deleted, purged, restored, or held (counted "
    "when a hold begins).",
    ["outcome"],
    registry=REGISTRY,
)
DELETION_SECONDS = Histogram(
    "serverops_deletion_duration_seconds",
    "Seconds from an object's deletionTimestamp until the operator released it, by flow.",
    ["flow"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
    registry=REGISTRY,
)
RECLAIM_DELAY_SECONDS = Histogram(
    "serverops_reclaim_delay_seconds",
    "Seconds between a DeletedServer's reclaimAt and the operator starting its purge.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
API_ERRORS = Counter(
    "serverops_api_errors_total",
    "Failed Kubernetes API calls of the operator, by verb, resource and HTTP status.",
    ["verb", "resource", "code"],
    registry=REGISTRY,
)

# Each returns counts by label value: servers by status, held deletions by reason.
CountsFn = Callable[[], Mapping[str, int]]


class _IndexCollector(Collector):
    """Gauges read from the operator's indexes at scrape time."""

    def __init__(self, *, servers_by_status: CountsFn, blocked_by_reason: CountsFn) -> None:
        self._servers_by_status = servers_by_status
        self._blocked_by_reason = blocked_by_reason

    def collect(self) -> Iterable[GaugeMetricFamily]:
        servers = GaugeMetricFamily(
            "serverops_servers", "Servers by status (BUILD, ACTIVE, ERROR).", labels=["status"]
        )
        for status, count in sorted(self._servers_by_status().items()):
            servers.add_metric([status], count)
        yield servers

        blocked = GaugeMetricFamily(
            "serverops_blocked_deletions",
            "Deletions held by the operator, by reason (Locked, InvalidReclaimInterval).",
            labels=["reason"],
        )
        for reason, count in sorted(self._blocked_by_reason().items()):
            blocked.add_metric([reason], count)
        yield blocked


def serve(
    *, address: str, port: int, servers_by_status: CountsFn, blocked_by_reason: CountsFn
) -> None:
    """Register the index gauges and start serving ``/metrics`` in a background thread."""
    REGISTRY.register(
        _IndexCollector(servers_by_status=servers_by_status, blocked_by_reason=blocked_by_reason)
    )
    start_http_server(port, addr=address, registry=REGISTRY)
    logger.info(f"Serving Prometheus metrics on http://{address}:{port}/metrics.")
