"""The write-count benchmark at small scale, so that CI catches an operator that starts
writing more per deletion.

Each flow runs on two servers against a local API server in a child process, with the
real operator process; the budget is the flow's floor (see :mod:`benchmarks.writes`)
plus one write.
"""

import asyncio
from typing import Any

import pytest

from benchmarks import counting, environment, writes


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, writes.FlowResult]:
    workdir = tmp_path_factory.mktemp("bench")

    async def measure() -> list[writes.FlowResult]:
        env = await environment.Environment.start(
            workdir=workdir, kubeconfig=None, progress=lambda _: None
        )
        try:
            return await writes.measure_flows(env, count=2)
        finally:
            await env.close()

    return {result.flow: result for result in asyncio.run(measure())}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("flow", ["hard delete", "soft delete", "purge", "reclaim", "restore"])
def test_flow_within_one_write_of_floor(results: dict[str, writes.FlowResult], flow: str) -> None:
    result = results[flow]
    assert result.exact is not None
    assert result.exact.writes <= result.floor + 1, dict(result.exact.by_request)
    assert result.exact.reads == 0, dict(result.exact.by_request)


def test_watch_count_matches_exact_count(results: dict[str, writes.FlowResult]) -> None:
    for result in results.values():
        assert result.exact is not None
        assert result.observed is not None
        assert result.observed.writes == result.exact.writes, result.flow
        assert result.observed.events == result.exact.events, result.flow


def test_counts_cover_every_request() -> None:
    records: list[dict[str, Any]] = [
        {"verb": "patch", "resource": "servers", "subresource": "status", "userAgent": "kopf/1"},
        {"verb": "create", "resource": "events", "userAgent": "serverops/0.1", "count": 2},
        {"verb": "get", "resource": "ports", "userAgent": "serverops/0.1"},
        {"verb": "watch", "resource": "ports", "userAgent": "kopf/1"},
        {"verb": "delete", "resource": "servers", "userAgent": "serverops-bench/1"},
    ]
    for record in records:
        record.setdefault("count", 1)
    tally = counting.tally_requests(records)
    assert tally.writes == 1
    assert tally.events == 2
    assert tally.reads == 1
    assert tally.watches == 1
    assert dict(tally.by_request) == {
        "patch servers/status": 1,
        "create events": 2,
        "get ports": 1,
    }
