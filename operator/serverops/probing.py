"""The liveness and readiness endpoints of the operator process.

They are served from the start, also while a replica waits to lead, so that Kubernetes
keeps a standby replica alive but sends it no webhook traffic. ``<path>`` (the liveness
URL's path, ``/healthz`` by default) answers 200 while the process runs; ``/readyz``
answers 200 once the operator handles objects, and 503 before.
"""

import asyncio
import logging
import urllib.parse

from aiohttp import web

logger = logging.getLogger(__name__)


class Probes:
    """The probe server and the readiness flag it reports."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self, url: str) -> None:
        """Serve the probes at ``url``, such as ``http://0.0.0.0:8081/healthz``."""
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme != "http" or not parsed.port:
            raise ValueError(
                f"Invalid liveness URL {url!r}: expected http://ADDRESS:PORT/PATH, such as "
                f"http://0.0.0.0:8081/healthz."
            )
        app = web.Application()
        app.router.add_get(parsed.path or "/healthz", self._alive)
        app.router.add_get("/readyz", self._readiness)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, parsed.hostname or "0.0.0.0", parsed.port).start()
        logger.info(f"Serving liveness at {url} and readiness at /readyz.")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _alive(self, request: web.Request) -> web.Response:
        return web.json_response({"alive": True, "ready": self.ready.is_set()})

    async def _readiness(self, request: web.Request) -> web.Response:
        status = 200 if self.ready.is_set() else 503
        return web.json_response({"ready": self.ready.is_set()}, status=status)
