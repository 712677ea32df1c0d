"""Malformed and random requests get 4xx responses, never a 500."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.apiserver.conftest import API

VALUES: list[Any] = [None, 1, "x", [], {}, [1], {"a": 1}, True, 1.5, {"name": "zz"}]
KINDS = ["Widget", "Namespace", "Event", "Lease", "CustomResourceDefinition", "Unknown"]
API_VERSIONS = ["v1", "golden.example.com/v1", "coordination.k8s.io/v1", "events.k8s.io/v1"]
PATHS = [
    "/api/v1/namespaces",
    "/api/v1/namespaces/default",
    "/api/v1/namespaces/default/status",
    "/api/v1/namespaces/default/finalize",
    "/api/v1/namespaces/default/events",
    "/api/v1/namespaces/default/events/e",
    "/apis/coordination.k8s.io/v1/namespaces/default/leases",
    "/apis/coordination.k8s.io/v1/namespaces/default/leases/l",
    "/apis/golden.example.com/v1/namespaces/default/widgets",
    "/apis/golden.example.com/v1/namespaces/default/widgets/w",
    "/apis/golden.example.com/v1/namespaces/default/widgets/w/status",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/events.k8s.io/v1/namespaces/default/events/e",
]
CONTENT_TYPES = [
    "application/json",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]


def random_body(rng: random.Random) -> Any:
    metadata = rng.choice([{"name": "w"}, {"name": "e"}, {"name": "l"}, {"generateName": "g-"}, {}])
    body: dict[str, Any] = {
        "apiVersion": rng.choice(API_VERSIONS),
        "kind": rng.choice(KINDS),
        "metadata": metadata,
    }
    for field in ("spec", "status", "involvedObject", "regarding", "note", "count"):
        if rng.random() < 0.4:
            body[field] = rng.choice(VALUES)
    patch = [
        {
            "op": rng.choice(["add", "remove", "replace"]),
            "path": "/spec",
            "value": rng.choice(VALUES),
        }
    ]
    return rng.choice([body, body, rng.choice(VALUES), patch])


async def test_random_requests_never_fail_internally(api: API) -> None:
    rng = random.Random(20250101)
    failures = []
    for _ in range(600):
        method = rng.choice(["POST", "PUT", "PATCH", "DELETE", "GET"])
        path = rng.choice(PATHS)
        content_type = rng.choice(CONTENT_TYPES)
        body = json.dumps(random_body(rng))
        headers = {"Content-Type": content_type}
        async with api.session.request(method, path, data=body, headers=headers) as response:
            if response.status >= 500:
                failures.append((method, path, content_type, body, await response.text()))
    assert failures == []


async def test_invalid_json_is_bad_request(api: API) -> None:
    path = "/apis/golden.example.com/v1/namespaces/default/widgets"
    async with api.session.post(
        path, data=b"{not json", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["reason"] == "BadRequest"
