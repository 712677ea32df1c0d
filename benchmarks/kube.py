"""A small asyncio client of the Kubernetes API for the benchmark driver and the floor.

It speaks plain JSON over one aiohttp session built from a kubeconfig (through
``kubernetes_asyncio``'s loader, so tokens, client certificates and exec plugins work on
a real cluster). The typed clients would add their own cost to the floor, which is
meant to be the API work alone.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

GROUP = "compute.serverops.io"
VERSION = "v1alpha1"
FINALIZER = "compute.serverops.io/cleanup"
USER_AGENT = "serverops-bench/1"

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

Body = dict[str, Any]


class APIError(Exception):
    """A request failed; ``status`` is the HTTP status."""

    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"{method} {path} failed with {status}: {text[:300]}")
        self.status = status


class Kube:
    """Requests to one API server, at most ``concurrency`` at a time."""

    def __init__(self, session: aiohttp.ClientSession, *, concurrency: int) -> None:
        self.session = session
        self.limit = asyncio.Semaphore(concurrency)

    @classmethod
    async def connect(
        cls, kubeconfig: str, *, concurrency: int = 64, user_agent: str = USER_AGENT
    ) -> Kube:
        configuration = k8s_client.Configuration()
        await k8s_config.load_kube_config(
            config_file=kubeconfig, client_configuration=configuration
        )
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        token = configuration.api_key.get("authorization") or configuration.api_key.get(
            "BearerToken"
        )
        if token:
            headers["Authorization"] = token if " " in token else f"Bearer {token}"
        ssl_context: ssl.SSLContext | bool = False
        host = str(configuration.host)
        if host.startswith("https"):
            context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
            if configuration.cert_file:
                context.load_cert_chain(configuration.cert_file, configuration.key_file)
            if not configuration.verify_ssl:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            ssl_context = context
        connector = aiohttp.TCPConnector(limit=concurrency + 8, ssl=ssl_context)
        session = aiohttp.ClientSession(
            base_url=host.rstrip("/") + "/",
            headers=headers,
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
        )
        return cls(session, concurrency=concurrency)

    async def close(self) -> None:
        await self.session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 202),
    ) -> Body:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self.limit:
            async with self.session.request(
                method, path.lstrip("/"), data=data, headers=headers, params=params
            ) as response:
                text = await response.text()
                if response.status not in ok:
                    raise APIError(method, path, response.status, text)
                return json.loads(text) if text else {}

    # Paths of the operator's kinds and of the core kinds the benchmark uses.

    @staticmethod
    def path(plural: str, namespace: str, name: str = "", subresource: str = "") -> str:
        if plural in ("events", "namespaces"):
            base = "api/v1" if plural == "namespaces" else f"api/v1/namespaces/{namespace}"
        else:
            base = f"apis/{GROUP}/{VERSION}/namespaces/{namespace}"
        path = f"{base}/{plural}"
        if name:
            path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
        return path

    async def create(self, plural: str, namespace: str, body: Body) -> Body:
        return await self.request("POST", self.path(plural, namespace), body=body)

    async def get(self, plural: str, namespace: str, name: str) -> Body | None:
        try:
            return await self.request("GET", self.path(plural, namespace, name))
        except APIError as error:
            if error.status == 404:
                return None
            raise

    async def list(self, plural: str, namespace: str, **params: str) -> list[Body]:
        items: list[Body] = []
        query = {"limit": "5000", **params}
        while True:
            page = await self.request("GET", self.path(plural, namespace), params=query)
            items.extend(page.get("items", []))
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items
            query = {**query, "continue": token}

    async def patch(
        self,
        plural: str,
        namespace: str,
        name: str,
        patch: Any,
        *,
        status: bool = False,
    ) -> Body:
        content_type = JSON_PATCH if isinstance(patch, list) else MERGE_PATCH
        path = self.path(plural, namespace, name, "status" if status else "")
        return await self.request("PATCH", path, body=patch, content_type=content_type)

    async def delete(
        self, plural: str, namespace: str, name: str, *, uid: str = "", missing_ok: bool = False
    ) -> Body:
        body: Body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            return await self.request("DELETE", self.path(plural, namespace, name), body=body)
        except APIError as error:
            if missing_ok and error.status == 404:
                return {}
            raise

    async def watch(
        self, plural: str, namespace: str, *, resource_version: str = ""
    ) -> AsyncIterator[Body]:
        """Yield watch events until the caller stops iterating; no semaphore, no timeout."""
        params = {"watch": "true", "allowWatchBookmarks": "true"}
        if resource_version:
            params["resourceVersion"] = resource_version
        path = self.path(plural, namespace)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.session.get(path, params=params, timeout=timeout) as response:
            if response.status != 200:
                raise APIError("WATCH", path, response.status, await response.text())
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)

    async def ensure_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        try:
            await self.request("POST", "api/v1/namespaces", body=body)
        except APIError as error:
            if error.status != 409:
                raise
