"""
Fixtures of the local API server's own tests.

``api`` is an aiohttp session on a fresh ``local_apiserver`` with the golden widget
CRD (``widgets.golden.example.com``), for tests that speak HTTP directly.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from serverops.apiserver import LocalAPIServer
from tests.kube import apiserver_options, kubectl, local_apiserver, threaded_apiserver

__all__ = [
    "api",
    "apiserver_options",
    "crd_paths",
    "kubectl",
    "local_apiserver",
    "threaded_apiserver",
]

WIDGET_CRD = pathlib.Path(__file__).parents[1] / "contract" / "golden" / "widget-crd.yaml"
WIDGETS = "/apis/golden.example.com/v1/namespaces/default/widgets"


@pytest.fixture
def crd_paths() -> list[pathlib.Path]:
    return [WIDGET_CRD]


class API:
    """JSON requests to one local server."""

    def __init__(self, session: aiohttp.ClientSession, server: LocalAPIServer) -> None:
        self.session = session
        self.server = server

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        all_headers = {"Content-Type": content_type, **(headers or {})}
        async with self.session.request(
            method, path, data=_encode(body), headers=all_headers
        ) as response:
            text = await response.text()
            if not text or "json" not in response.content_type:
                return response.status, text or None
            return response.status, json.loads(text)

    async def create_widget(self, name: str, size: int = 3, **metadata: Any) -> dict[str, Any]:
        body = {
            "apiVersion": "golden.example.com/v1",
            "kind": "Widget",
            "metadata": {"name": name, **metadata},
            "spec": {"size": size},
        }
        status, created = await self.request("POST", WIDGETS, body)
        assert status == 201, created
        return dict(created)

    async def patch(
        self,
        path: str,
        patch: Any,
        content_type: str = "application/merge-patch+json",
        *,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        return await self.request("PATCH", path, patch, content_type=content_type, headers=headers)


def _encode(body: Any) -> bytes | None:
    """Encode a body as JSON; a string is sent as it is (e.g. YAML)."""
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


@pytest.fixture
async def api(local_apiserver: LocalAPIServer) -> AsyncIterator[API]:
    connector = aiohttp.TCPConnector(ssl=local_apiserver.client_ssl_context() or True)
    async with aiohttp.ClientSession(base_url=local_apiserver.url, connector=connector) as session:
        yield API(session, local_apiserver)
