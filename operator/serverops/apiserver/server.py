"""
The public entry points: :class:`LocalAPIServer`, :class:`ThreadedAPIServer` and
:func:`serve_forever`.

:class:`LocalAPIServer` runs in the caller's event loop (async tests, the operator's
own process). :class:`ThreadedAPIServer` runs one in a background thread with its own
loop, for synchronous tests that call kubectl or the blocking ``kubernetes`` client.
:func:`serve_forever` runs one until cancelled, for the ``serverops apiserver`` command.
The server listens on loopback addresses only.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import pathlib
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import yaml
from aiohttp import web

from serverops.apiserver import (
    app,
    authentication,
    authorization,
    certificates,
    clock,
    cluster,
    faults,
    filters,
    handlers,
    reviews,
    stats,
)

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
DEFAULT_CONTEXT = "serverops-local"
AUTHORIZATION_MODES = ("AlwaysAllow", "RBAC")

T = TypeVar("T")


def kubeconfig(
    url: str,
    *,
    context: str = DEFAULT_CONTEXT,
    namespace: str = "default",
    token: str | None = None,
    certificate_authority: bytes | None = None,
) -> dict[str, Any]:
    """Build a kubeconfig with a bearer token and the server's certificate, if given."""
    cluster: dict[str, Any] = {"server": url}
    if certificate_authority is not None:
        cluster["certificate-authority-data"] = base64.b64encode(certificate_authority).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token} if token else {}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": context, "namespace": namespace},
            }
        ],
        "current-context": context,
        "preferences": {},
    }


class LocalAPIServer:
    """An in-memory Kubernetes API server on a loopback port, in the current event loop.

    Without ``tokens`` and ``token_file`` every request acts as ``system:admin`` in
    ``system:masters``. With them, requests need a known bearer token (401 otherwise),
    unless ``anonymous`` lets requests without a token act as ``system:anonymous``.
    ``tls`` serves HTTPS with a fresh self-signed certificate; it defaults to on with
    tokens, because kubectl sends tokens only over TLS.
    ``authorization="RBAC"`` evaluates the RBAC objects for every request; the default
    ``"AlwaysAllow"`` allows everything. ``service_endpoints`` maps the ``(namespace,
    name)`` or ``(namespace, name, port)`` of a webhook's service to a loopback
    ``host:port``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        crd_paths: Iterable[str | pathlib.Path] = (),
        clock: clock.Clock | None = None,
        *,
        watch_window: int = 10_000,
        bookmark_interval: float = 60.0,
        default_watch_timeout: float = 1800.0,
        tokens: Mapping[str, authentication.TokenUser] | None = None,
        token_file: str | pathlib.Path | None = None,
        anonymous: bool = False,
        authorization: str = "AlwaysAllow",
        service_endpoints: reviews.ServiceEndpoints | None = None,
        tls: bool | None = None,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the local API server listens on loopback only, not on {host!r}")
        if authorization not in AUTHORIZATION_MODES:
            raise ValueError(
                f"invalid authorization mode {authorization!r}: use one of {AUTHORIZATION_MODES}"
            )
        all_tokens: dict[str, authentication.TokenUser] = {}
        if token_file is not None:
            all_tokens.update(authentication.load_token_file(token_file))
        all_tokens.update(tokens or {})
        self.authenticator = (
            authentication.TokenAuthenticator(all_tokens, anonymous=anonymous)
            if all_tokens
            else None
        )
        self.authorization = authorization
        use_tls = tls if tls is not None else self.authenticator is not None
        # The serving certificate, valid for the loopback addresses; None for plain HTTP.
        self.certificate = certificates.self_signed() if use_tls else None
        # Read on every webhook call, so entries may be added while the server runs.
        self.service_endpoints: dict[Any, str] = dict(service_endpoints or {})
        # "localhost" may resolve to both families, which would get different free ports.
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.crd_paths = list(crd_paths)
        self.clock = clock
        self.watch_window = watch_window
        self.settings = handlers.Settings(
            bookmark_interval=bookmark_interval, default_watch_timeout=default_watch_timeout
        )
        self.stats = stats.RequestStats()
        self.faults = faults.Faults()
        self.cluster: cluster.Cluster | None = None
        self.application: app.APIApplication | None = None
        self.dispatcher: reviews.Dispatcher | None = None
        self._runner: web.AppRunner | None = None
        # The last kubeconfig written for the default (admin) user.
        self.kubeconfig_path: pathlib.Path | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.certificate is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """Return an SSL context that trusts the server's certificate; None for plain HTTP."""
        return self.certificate.client_context() if self.certificate is not None else None

    async def start(self) -> None:
        """Listen, start the controllers, and apply the CRDs until they are Established."""
        self.cluster = cluster.Cluster(clock_=self.clock, watch_window=self.watch_window)
        self.cluster.start()
        authorizer: authorization.Authorizer = (
            authorization.RBACAuthorizer(self.cluster.store)
            if self.authorization == "RBAC"
            else authorization.AlwaysAllow()
        )
        self.dispatcher = reviews.Dispatcher(service_endpoints=self.service_endpoints)
        self.application = app.APIApplication(
            self.cluster,
            settings=self.settings,
            request_stats=self.stats,
            fault_rules=self.faults,
            security=filters.Security(authenticator=self.authenticator, authorizer=authorizer),
            dispatcher=self.dispatcher,
        )
        self._runner = web.AppRunner(
            self.application.build(),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=0.5,
        )
        await self._runner.setup()
        context = self.certificate.server_context() if self.certificate is not None else None
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.application.server_address = f"{self.host}:{self.port}"
        await self.cluster.apply_crd_files(self.crd_paths)
        logger.info(f"The local API server is listening on {self.url}.")

    async def stop(self) -> None:
        """Close watches and connections and stop the controllers."""
        if self.application is not None:
            self.application.resources.stop_watches()
            self.faults.clear()
        if self._runner is not None:
            web_server = self._runner.server
            connections = list(web_server.connections) if web_server is not None else []
            transports = [c.transport for c in connections if c.transport is not None]
            await self._runner.cleanup()
            self._runner = None
            # A closed TLS connection keeps its socket until the client's close_notify
            # arrives (up to 30 s). Aborting them keeps sockets from outliving the loop.
            for transport in transports:
                transport.abort()
            await asyncio.sleep(0)  # let the aborts' callbacks run
        if self.dispatcher is not None:
            await self.dispatcher.close()
        if self.cluster is not None:
            await self.cluster.stop()
        logger.info(f"The local API server on {self.url} has stopped.")

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the built-in controllers (GC, namespaces, CRDs) have caught up."""
        assert self.cluster is not None, "the server is not started"
        await self.cluster.settle(timeout=timeout)

    def write_kubeconfig(
        self,
        path: str | pathlib.Path,
        context: str = DEFAULT_CONTEXT,
        namespace: str = "default",
        *,
        user: str | None = None,
        token: str | None = None,
    ) -> pathlib.Path:
        """Write a kubeconfig usable by kubectl, kopf and the kubernetes clients.

        With authentication on, the kubeconfig carries ``token``, or a token of ``user``,
        or by default a token of a ``system:masters`` member. Only a kubeconfig of that
        default becomes :attr:`kubeconfig_path`.
        """
        chosen = token if token is not None else self.token_for(user)
        target = pathlib.Path(path)
        authority = self.certificate.certificate_pem if self.certificate is not None else None
        document = kubeconfig(
            self.url,
            context=context,
            namespace=namespace,
            token=chosen,
            certificate_authority=authority,
        )
        target.write_text(yaml.safe_dump(document))
        if user is None and token is None:
            self.kubeconfig_path = target
        return target

    def token_for(self, user: str | None = None) -> str | None:
        """Return a token of the user, or of a system:masters member; None without tokens."""
        if self.authenticator is None:
            if user is not None:
                raise ValueError(f"cannot write a kubeconfig of {user!r}: no tokens are configured")
            return None
        for token, info in self.authenticator.tokens.items():
            if user is None and authentication.MASTERS in info.groups:
                return token
            if user is not None and info.username == user:
                return token
        wanted = repr(user) if user is not None else "a member of system:masters"
        raise ValueError(f"no token is configured for {wanted}")

    async def __aenter__(self) -> LocalAPIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class ThreadedAPIServer:
    """A :class:`LocalAPIServer` in a background thread, driven by blocking calls."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        crd_paths: Sequence[Any] = (),
        clock: clock.Clock | None = None,
        **options: Any,
    ) -> None:
        self.server = LocalAPIServer(host, port, crd_paths, clock, **options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def stats(self) -> stats.RequestStats:
        return self.server.stats

    def client_ssl_context(self) -> ssl.SSLContext | None:
        return self.server.client_ssl_context()

    @property
    def kubeconfig_path(self) -> pathlib.Path | None:
        return self.server.kubeconfig_path

    def start(self, timeout: float = 30.0) -> None:
        """Start the server thread and block until the server listens."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="local-apiserver", daemon=True
        )
        self._thread.start()
        try:
            self._run(self.server.start(), timeout)
        except BaseException:
            self.stop(timeout)
            raise

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is None or self._thread is None:
            return
        try:
            self._run(self.server.stop(), timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            self._loop.close()
            self._loop = None
            self._thread = None

    def _run(self, coroutine: Any, timeout: float | None) -> Any:
        assert self._loop is not None, "the server thread is not running"
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the local API server did not respond within {timeout}s") from None

    def call(self, function: Callable[[], T], timeout: float | None = 30.0) -> T:
        """Run a function on the server's loop thread and return its result."""

        async def run() -> T:
            return function()

        return self._run(run(), timeout)  # type: ignore[no-any-return]

    def write_kubeconfig(
        self,
        path: str | pathlib.Path,
        context: str = DEFAULT_CONTEXT,
        namespace: str = "default",
        *,
        user: str | None = None,
        token: str | None = None,
    ) -> pathlib.Path:
        return self.server.write_kubeconfig(
            path, context=context, namespace=namespace, user=user, token=token
        )

    def settle(self, timeout: float = 10.0) -> None:
        self._run(self.server.settle(timeout), timeout + 1)

    def add_fault(self, **fields: Any) -> str:
        """Add a fault rule (see :class:`~serverops.apiserver.faults.FaultRule`); return its id."""
        return self.call(lambda: self.server.faults.add(**fields).id)

    def remove_fault(self, rule_id: str) -> None:
        self.call(lambda: self.server.faults.remove(rule_id))

    def wait_held(
        self, rule_id: str, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._run(
            self.server.faults.wait_held(rule_id, count=count, timeout=timeout), timeout + 1
        )
        return result

    def release(self, rule_id: str, count: int | None = None) -> int:
        return self.call(lambda: self.server.faults.release(rule_id, count=count))

    def drop(self, rule_id: str, count: int | None = None) -> int:
        return self.call(lambda: self.server.faults.drop(rule_id, count=count))

    def __enter__(self) -> ThreadedAPIServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


async def serve_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    kubeconfig_path: str | pathlib.Path | None = None,
    crd_paths: Iterable[str | pathlib.Path] = (),
    context: str = DEFAULT_CONTEXT,
    ready: Callable[[LocalAPIServer], None] | None = None,
    **options: Any,
) -> None:
    """Run a server until the task is cancelled, e.g. by Ctrl+C under ``asyncio.run``.

    ``ready`` is called once the server listens and the kubeconfig (if any) is written.
    ``options`` are those of :class:`LocalAPIServer`, e.g. ``token_file`` and
    ``authorization``.
    """
    server = LocalAPIServer(host, port, crd_paths, **options)
    await server.start()
    try:
        if kubeconfig_path is not None:
            server.write_kubeconfig(kubeconfig_path, context=context)
            logger.info(f"Wrote the kubeconfig of {server.url} to {kubeconfig_path}.")
        if ready is not None:
            ready(server)
        await asyncio.Event().wait()
    finally:
        await server.stop()
