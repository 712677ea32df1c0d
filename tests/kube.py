"""
Pytest fixtures that run the local Kubernetes API server for a test.

Import them into a ``conftest.py`` (``from tests.kube import crd_paths,
local_apiserver, threaded_apiserver``). ``local_apiserver`` runs in the test's event
loop, for async tests. ``threaded_apiserver`` runs in a background thread, for sync
tests that call kubectl or the blocking ``kubernetes`` client. Both apply the CRD
manifests that the ``crd_paths`` fixture returns (none unless a test module overrides
it), take the keyword arguments that ``apiserver_options`` returns (override it to turn
on tokens or RBAC), write a kubeconfig (``server.kubeconfig_path``, an admin's when
tokens are on) and stop when the test ends. ``kubectl`` runs the real kubectl against a
server with a private cache directory, so that no test reads discovery cached from
another test's server.

For admission webhooks, :func:`make_certificate` writes a self-signed certificate, and
:class:`WebhookServer` serves AdmissionReviews over HTTPS on 127.0.0.1 with a function
of the test.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import pathlib
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import pytest
from aiohttp import web

from serverops.apiserver import LocalAPIServer, ThreadedAPIServer, certificates

KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")
ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def crd_paths() -> list[pathlib.Path]:
    """The CRD manifests to apply at start; override it in a test module to add some."""
    return []


@pytest.fixture
def apiserver_options() -> dict[str, Any]:
    """Keyword arguments of the servers, e.g. ``tokens`` and ``authorization="RBAC"``."""
    return {}


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Return ``apiserver_options``, or none where a conftest does not import that fixture."""
    try:
        options: dict[str, Any] = request.getfixturevalue("apiserver_options")
    except pytest.FixtureLookupError:
        return {}
    return options


@pytest.fixture
async def local_apiserver(
    tmp_path: pathlib.Path, crd_paths: list[pathlib.Path], request: pytest.FixtureRequest
) -> AsyncIterator[LocalAPIServer]:
    server = LocalAPIServer(crd_paths=crd_paths, bookmark_interval=1.0, **_options(request))
    await server.start()
    server.write_kubeconfig(tmp_path / "kubeconfig")
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def threaded_apiserver(
    tmp_path: pathlib.Path, crd_paths: list[pathlib.Path], request: pytest.FixtureRequest
) -> Iterator[ThreadedAPIServer]:
    server = ThreadedAPIServer(crd_paths=crd_paths, bookmark_interval=1.0, **_options(request))
    server.start()
    server.write_kubeconfig(tmp_path / "kubeconfig")
    try:
        yield server
    finally:
        server.stop()


Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(threaded_apiserver: ThreadedAPIServer, tmp_path: pathlib.Path) -> Kubectl:
    """Run kubectl with the given arguments against ``threaded_apiserver``."""
    env = dict(os.environ)
    env["KUBECONFIG"] = str(threaded_apiserver.kubeconfig_path)
    env["HOME"] = str(tmp_path / "home")
    cache = tmp_path / "kubectl-cache"

    def run(
        *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [KUBECTL, f"--cache-dir={cache}", *args]
        result = subprocess.run(
            command, input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed with exit code {result.returncode}:\n{result.stderr}"
            )
        return result

    return run


@dataclasses.dataclass(frozen=True)
class Certificate:
    """A self-signed serving certificate: its files and its PEM as a ``caBundle``."""

    cert_path: pathlib.Path
    key_path: pathlib.Path
    pem: bytes

    @property
    def ca_bundle(self) -> str:
        """The certificate as a webhook's ``clientConfig.caBundle`` (base64 of the PEM)."""
        return base64.b64encode(self.pem).decode()


def make_certificate(
    directory: pathlib.Path,
    *,
    names: Sequence[str] = ("127.0.0.1", "localhost"),
    prefix: str = "webhook",
) -> Certificate:
    """Write a self-signed certificate valid for the given IP addresses and DNS names."""
    pair = certificates.self_signed(names)
    cert_path, key_path = pair.write(directory, prefix)
    return Certificate(cert_path, key_path, pair.certificate_pem)


Review = dict[str, Any]
Respond = Callable[[Review], Review | Awaitable[Review]]


def allow(review: Review, *, warnings: Sequence[str] = ()) -> Review:
    """The response that allows a review's request."""
    response: dict[str, Any] = {"uid": review["request"]["uid"], "allowed": True}
    if warnings:
        response["warnings"] = list(warnings)
    return {"apiVersion": review["apiVersion"], "kind": "AdmissionReview", "response": response}


def deny(review: Review, message: str, *, code: int | None = None) -> Review:
    """The response that denies a review's request, with a status code when given."""
    status: dict[str, Any] = {"message": message}
    if code is not None:
        status["code"] = code
    response = {"uid": review["request"]["uid"], "allowed": False, "status": status}
    return {"apiVersion": review["apiVersion"], "kind": "AdmissionReview", "response": response}


class WebhookServer:
    """An HTTPS admission webhook on 127.0.0.1 whose responses come from ``respond``.

    Every review it receives is kept in :attr:`reviews`. Use ``async with`` in async
    tests, or ``with`` to run it in a thread of its own for sync tests.
    """

    def __init__(self, certificate: Certificate, respond: Respond = allow) -> None:
        self.certificate = certificate
        self.respond = respond
        self.reviews: list[Review] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/validate") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        review = await request.json()
        self.reviews.append(review)
        result = self.respond(review)
        if not isinstance(result, dict):
            result = await result
        return web.json_response(result)

    async def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate.cert_path, self.certificate.key_path)
        application = web.Application()
        application.router.add_post("/{path:.*}", self._handle)
        self._runner = web.AppRunner(application, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebhookServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __enter__(self) -> WebhookServer:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="webhook", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def validating_webhook_configuration(
    name: str,
    *,
    url: str | None = None,
    service: dict[str, Any] | None = None,
    ca_bundle: str | None = None,
    rules: Sequence[dict[str, Any]] = (),
    **fields: Any,
) -> dict[str, Any]:
    """Build a ValidatingWebhookConfiguration with one webhook of the same name."""
    client_config: dict[str, Any] = {"url": url} if url else {"service": service}
    if ca_bundle is not None:
        client_config["caBundle"] = ca_bundle
    webhook = {
        "name": name,
        "clientConfig": client_config,
        "rules": list(rules),
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **fields,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [webhook],
    }
