"""Calls to the Kubernetes API for the operator's own kinds, with the errors it acts on.

The handlers never see ``kubernetes_asyncio`` exceptions: every failed call raises one of
the :class:`APIError` subclasses below, which say what happened in the API's own terms
(not found, already exists, conflict, invalid), so that each step can decide whether a
failure means "done already", "retry" or "stop".
"""

import base64
import importlib.metadata
import ipaddress
import json
import logging
import os
import urllib.parse
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client import rest
from kubernetes_asyncio.client.exceptions import ApiException

from serverops import constants, metrics

logger = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

Body = dict[str, Any]
JSONPatch = list[dict[str, Any]]


class APIError(Exception):
    """A request to the Kubernetes API failed; ``status`` is the HTTP status, 0 if none.

    ``causes`` lists the ``reason`` of each cause in the API's Status details.
    """

    def __init__(
        self, message: str, *, status: int = 0, reason: str = "", causes: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.causes = causes


class Forbidden(APIError):
    """The request is not allowed (403), for example in a namespace being deleted."""

    @property
    def namespace_terminating(self) -> bool:
        return "NamespaceTerminating" in self.causes


class NotFound(APIError):
    """The object does not exist (404)."""


class AlreadyExists(APIError):
    """An object with that name exists already (409 AlreadyExists)."""


class Conflict(APIError):
    """The object changed since it was read (409 Conflict), or a JSON patch test failed."""


class Invalid(APIError):
    """The request is invalid for this object (422), for example a failed JSON patch test."""


class CredentialsError(RuntimeError):
    """Neither a service account nor a usable kubeconfig is there; the message says why."""


async def load_credentials() -> None:
    """Load the in-cluster service account, else the kubeconfig, as kubectl finds it."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        return
    except config.ConfigException:
        pass

    # kubernetes_asyncio reads KUBECONFIG at import time; read it now, as kubectl does.
    path = os.environ.get("KUBECONFIG", os.path.expanduser("~/.kube/config"))
    try:
        await config.load_kube_config(config_file=path)
    except (config.ConfigException, OSError) as error:
        raise CredentialsError(
            f"Failed to load the kubeconfig {path!r}: {error}. Set KUBECONFIG to a valid "
            f"kubeconfig, or run the operator in a pod with a service account."
        ) from error


async def connect() -> client.ApiClient:
    """Create an API client from the in-cluster service account, else from the kubeconfig."""
    await load_credentials()
    api_client = client.ApiClient()
    await api_client.rest_client.close()
    api_client.rest_client = _QuietRESTClient(api_client.configuration)

    # Audit logs and request counters tell the operator's own calls apart by this.
    api_client.user_agent = f"serverops/{importlib.metadata.version('serverops')}"
    return api_client


class _QuietRESTClient(rest.RESTClientObject):
    """A kubernetes_asyncio REST client that reads the proxy variables once, at start.

    It chooses the proxy for the API server by kubectl's rules, so NO_PROXY can exempt the
    server, and a loopback server is proxied only when the kubeconfig sets proxy-url.
    :func:`_proxy_from_environment` lists the rules.

    kubernetes_asyncio opens its aiohttp session with ``trust_env=True``, so aiohttp reads
    the proxy variables and ``~/.netrc`` again for every request, in a worker thread. In a
    burst of 1,000 deletions that was 4 of the operator's 10 ms of CPU per deletion (see
    docs/benchmarks.md). kubectl reads no ``~/.netrc`` either.
    """

    def __init__(self, configuration: client.Configuration) -> None:
        super().__init__(configuration)
        opened: aiohttp.ClientSession = self.pool_manager
        self.pool_manager = aiohttp.ClientSession(
            connector=opened.connector, trust_env=False, read_bufsize=2**21
        )
        opened.detach()

        # A proxy-url in the kubeconfig wins over the variables, as in kubectl.
        if self.proxy:
            return
        proxy = _proxy_from_environment(str(configuration.host))
        if proxy is not None:
            self.proxy, authorization = proxy
            if authorization:
                self.proxy_headers = {"Proxy-Authorization": authorization}


def _proxy_from_environment(url: str) -> tuple[str, str] | None:
    """Find the proxy for ``url`` in the environment, by the rules kubectl follows.

    These are the rules of Go's golang.org/x/net/http/httpproxy: an https URL takes
    HTTPS_PROXY and an http URL takes HTTP_PROXY, and each upper-case name is read before its
    lower-case form. The host ``localhost`` and loopback addresses are never proxied, and
    NO_PROXY (or no_proxy) lists further exemptions, as :func:`_no_proxy_matches` reads them.

    Return the proxy URL without the credentials in it, and the Proxy-Authorization value that
    they make ("" without credentials). Return None when no proxy applies.

    NOTE: Go reads a proxy without a scheme (``proxy:3128``) as ``http://proxy:3128``, but
    this function returns it unchanged.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname  # lower-case, and without the brackets around an IPv6 address
    if parts.scheme not in ("http", "https") or not host:
        return None
    proxy = os.environ.get(f"{parts.scheme.upper()}_PROXY") or os.environ.get(
        f"{parts.scheme}_proxy"
    )
    if not proxy:
        return None

    try:
        host_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        host_ip = None
    if host == "localhost" or (host_ip is not None and host_ip.is_loopback):
        return None

    no_proxy = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for entry in no_proxy.split(","):
        if _no_proxy_matches(entry, host=host, host_ip=host_ip, port=port):
            return None

    address = urllib.parse.urlsplit(proxy)
    if address.username is None:
        return str(proxy), ""
    login = urllib.parse.unquote(address.username)
    password = urllib.parse.unquote(address.password or "")
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    proxy_host = address.hostname or ""
    netloc = f"{proxy_host}:{address.port}" if address.port else proxy_host
    return urllib.parse.urlunsplit(address._replace(netloc=netloc)), f"Basic {token}"


def _no_proxy_matches(
    entry: str,
    *,
    host: str,
    host_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    port: int,
) -> bool:
    """Check whether one NO_PROXY entry exempts ``host`` on ``port``, as Go's httpproxy does.

    ``*`` matches every host. An IP address or a CIDR range matches the IP hosts in it, never
    a host name. ``example.com`` matches that name and its subdomains, but ``.example.com``
    and ``*.example.com`` match its subdomains only. An IP address or a name may end in
    ``:port`` (``[ip]:port`` for IPv6), and the entry then matches that port only. ``host_ip``
    is ``host`` parsed as an IP address, or None for a host name.
    """
    entry = entry.strip().lower()
    if entry == "*":
        return True
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        pass
    else:
        return host_ip is not None and host_ip in network

    # Bare IPv6 addresses were parsed above, so a colon after the last "]" starts a port.
    if entry.rfind(":") > entry.rfind("]"):
        entry, _, entry_port = entry.rpartition(":")
        if entry_port and entry_port != str(port):
            return False
        entry = entry.removeprefix("[").removesuffix("]")
    if not entry:
        return False

    try:
        return ipaddress.ip_address(entry) == host_ip
    except ValueError:
        pass

    if entry.startswith("*."):
        entry = entry[1:]
    if entry.startswith("."):
        return host.endswith(entry)
    return host == entry or host.endswith(f".{entry}")


class CustomObjects:
    """The namespaced objects of one plural of the operator's API group."""

    def __init__(self, api_client: client.ApiClient, *, plural: str) -> None:
        self._api = client.CustomObjectsApi(api_client)
        self._plural = plural

    @property
    def plural(self) -> str:
        return self._plural

    async def get(self, *, namespace: str, name: str) -> Body:
        return await self._call(
            "get",
            namespace,
            name,
            self._api.get_namespaced_custom_object,
            constants.GROUP,
            constants.VERSION,
            namespace,
            self._plural,
            name,
        )

    async def create(self, *, namespace: str, body: Body) -> Body:
        name = body.get("metadata", {}).get("name", "")
        return await self._call(
            "create",
            namespace,
            name,
            self._api.create_namespaced_custom_object,
            constants.GROUP,
            constants.VERSION,
            namespace,
            self._plural,
            body,
        )

    async def patch(
        self,
        *,
        namespace: str,
        name: str,
        patch: Body | JSONPatch,
        status: bool = False,
    ) -> Body:
        """Apply a merge patch (a dict) or a JSON patch (a list) to the object or its status."""
        method = (
            self._api.patch_namespaced_custom_object_status
            if status
            else self._api.patch_namespaced_custom_object
        )
        content_type = JSON_PATCH if isinstance(patch, list) else MERGE_PATCH
        return await self._call(
            "patch status of" if status else "patch",
            namespace,
            name,
            method,
            constants.GROUP,
            constants.VERSION,
            namespace,
            self._plural,
            name,
            patch,
            _content_type=content_type,
        )

    async def delete(
        self,
        *,
        namespace: str,
        name: str,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> Body:
        """Delete the object; with ``uid`` and ``resource_version``, only if it is still that
        very object, unchanged (a precondition that fails raises :class:`Conflict`).

        Returns the API's answer: a ``Status`` with ``status: Success`` when the object is
        gone at once, or the object with its ``deletionTimestamp`` when finalizers hold it.
        """
        options = client.V1DeleteOptions(
            propagation_policy="Background",
            preconditions=(
                client.V1Preconditions(uid=uid, resource_version=resource_version)
                if uid or resource_version
                else None
            ),
        )
        return await self._call(
            "delete",
            namespace,
            name,
            self._api.delete_namespaced_custom_object,
            constants.GROUP,
            constants.VERSION,
            namespace,
            self._plural,
            name,
            body=options,
        )

    async def _call(
        self, verb: str, namespace: str, name: str, method: Any, *args: Any, **kwargs: Any
    ) -> Body:
        try:
            result: Body = await method(*args, **kwargs)
        except ApiException as error:
            metrics.API_ERRORS.labels(verb, self._plural, str(error.status or 0)).inc()
            raise _translate(
                error, f"Failed to {verb} {self._plural} {namespace}/{name}"
            ) from error
        except (TimeoutError, aiohttp.ClientError) as error:
            metrics.API_ERRORS.labels(verb, self._plural, "0").inc()
            message = f"Failed to {verb} {self._plural} {namespace}/{name}: {error!r}"
            raise APIError(message) from error
        return result


def is_gone(answer: Body) -> bool:
    """Tell whether a DELETE's answer says the object no longer exists."""
    if answer.get("kind") == "Status":
        return answer.get("status") == "Success"
    return not answer.get("metadata", {}).get("finalizers")


def _translate(error: ApiException, context: str) -> APIError:
    status = int(error.status or 0)
    reason = ""
    message = str(error.reason or "")
    try:
        details = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        details = {}
    if isinstance(details, dict):
        reason = str(details.get("reason", ""))
        message = str(details.get("message", message))

    causes: tuple[str, ...] = ()
    if isinstance(details, dict):
        listed = (details.get("details") or {}).get("causes") or []
        causes = tuple(str(cause.get("reason", "")) for cause in listed if isinstance(cause, dict))

    text = f"{context}: {status} {reason}: {message}".rstrip(": ")
    kinds: dict[int, type[APIError]] = {403: Forbidden, 404: NotFound, 422: Invalid}
    kind = kinds.get(status, APIError)
    if status == 409:
        kind = AlreadyExists if reason == "AlreadyExists" else Conflict
    return kind(text, status=status, reason=reason, causes=causes)
