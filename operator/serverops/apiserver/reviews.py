"""
Calls of admission webhooks with ``admission.k8s.io`` AdmissionReviews.

:class:`Dispatcher` sends every matching validating webhook an AdmissionReview over
HTTPS, in parallel, as kube-apiserver's validating dispatcher does. Mutating webhooks
are called one after another, each with the object as the previous ones patched it
(``response.patch``, a base64 JSON Patch). The results become the errors that
kube-apiserver 1.32 returns:

- a denial keeps the webhook's ``status`` (code, reason, details), with a code below
  400 raised to 400 and the message prefixed with
  ``admission webhook "<name>" denied the request: ``;
- a failed call (connection, TLS, timeout, non-200 response, malformed review) is
  ``500 Internal error occurred: failed calling webhook "<name>": ...`` under
  ``failurePolicy: Fail`` and is ignored under ``Ignore``;
- a dry-run request is rejected with 400 before any call when a matching webhook has
  ``sideEffects`` other than ``None`` or ``NoneOnDryRun``.

The first error in webhook order wins. Warnings of the responses go back to the client.

A webhook's ``clientConfig.url`` must name a loopback host. A ``clientConfig.service`` is
resolved through the server's ``service_endpoints`` mapping to a loopback
``host:port``, and its certificate is verified for ``<service>.<namespace>.svc``, the
name kube-apiserver verifies. Certificates are verified against ``caBundle``, or the
system's trusted roots without one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import errno
import ipaddress
import logging
import ssl
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from serverops.apiserver import admission, errors, patching, webhooks
from serverops.apiserver.resources import Object

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10
REVIEW_VERSIONS = ("v1", "v1beta1")
_CATEGORIES = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}

ServiceEndpoints = Mapping[tuple[str, str] | tuple[str, str, int], str]


class CallError(Exception):
    """A webhook that could not be called, or returned a malformed review."""


@dataclasses.dataclass(frozen=True)
class Target:
    """The destination of a review: its URL with the loopback address, and the TLS name."""

    url: str
    server_hostname: str


def review_request(
    invocation: webhooks.Invocation, attributes: admission.Attributes, uid: str
) -> dict[str, Any]:
    """Build the ``request`` of an AdmissionReview for one webhook."""
    rtype = invocation.rtype
    original = attributes.resource
    context = attributes.context

    def version_of(obj: Any) -> Any:
        return None if obj is None else rtype.present(obj)

    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": rtype.group, "version": rtype.version, "kind": rtype.kind},
        "resource": {"group": rtype.group, "version": rtype.version, "resource": rtype.plural},
    }
    if attributes.subresource:
        request["subResource"] = attributes.subresource
    request["requestKind"] = {
        "group": original.group,
        "version": original.version,
        "kind": original.kind,
    }
    request["requestResource"] = {
        "group": original.group,
        "version": original.version,
        "resource": original.plural,
    }
    if attributes.subresource:
        request["requestSubResource"] = attributes.subresource
    if attributes.name:
        request["name"] = attributes.name
    if attributes.namespace:
        request["namespace"] = attributes.namespace
    request["operation"] = attributes.operation
    request["userInfo"] = context.user.as_json()
    request["object"] = version_of(attributes.object)
    request["oldObject"] = version_of(attributes.old_object)
    request["dryRun"] = context.dry_run
    options = {
        "kind": _CATEGORIES[attributes.operation],
        "apiVersion": "meta.k8s.io/v1",
        **context.options,
    }
    if context.dry_run:
        options["dryRun"] = ["All"]
    request["options"] = options
    return request


class Dispatcher:
    """Send AdmissionReviews to the webhooks that match a write."""

    def __init__(self, *, service_endpoints: ServiceEndpoints | None = None) -> None:
        # Shared with the server, so that a test can map a service while it runs.
        self.service_endpoints = service_endpoints if service_endpoints is not None else {}
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # A fresh connection per call: webhook servers in tests come and go on one port.
            connector = aiohttp.TCPConnector(force_close=True)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def review(self, pending: admission.WebhooksPending) -> list[str]:
        """Call every matching webhook; return their warnings or raise the first error."""
        attributes = pending.attributes
        outcomes = await asyncio.gather(
            *(self._review_one(invocation, attributes) for invocation in pending.invocations),
            return_exceptions=True,
        )
        warnings: list[str] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            warnings.extend(_warnings(outcome))
        return warnings

    async def mutate(self, pending: admission.WebhooksPending) -> tuple[Object, list[str]]:
        """Call the mutating webhooks in order, each with the object the previous ones patched.

        Return the patched object and the warnings, or raise the first error. A webhook
        with ``reinvocationPolicy: IfNeeded`` is called once more when a later webhook
        changed the object after it.
        """
        attributes = pending.attributes
        current = attributes.object
        warnings: list[str] = []
        seen: list[tuple[webhooks.Invocation, Any]] = []
        for invocation in pending.invocations:
            current = await self._mutate_one(invocation, attributes, current, warnings)
            seen.append((invocation, current))
        for invocation, after in seen:
            policy = invocation.webhook.get("reinvocationPolicy", "Never")
            if policy == "IfNeeded" and after != current:
                current = await self._mutate_one(invocation, attributes, current, warnings)
        return current if current is not None else {}, warnings

    async def _mutate_one(
        self,
        invocation: webhooks.Invocation,
        attributes: admission.Attributes,
        current: Object | None,
        warnings: list[str],
    ) -> Object | None:
        step = dataclasses.replace(attributes, object=current)
        response = await self._review_one(invocation, step, mutating=True)
        warnings.extend(_warnings(response))
        if response is None or not response.get("patch"):
            return current
        if current is None:
            raise _internal(
                f"admission webhook {errors.quote(invocation.name)} attempted to modify the "
                "object, which is not supported for this operation"
            )
        try:
            operations = orjson.loads(base64.b64decode(str(response["patch"]), validate=True))
            patched = patching.apply_json_patch(invocation.rtype.present(current), operations)
        except (binascii.Error, orjson.JSONDecodeError) as error:
            raise _internal(f"invalid patch of webhook {invocation.name}: {error}") from None
        except errors.APIError as error:
            raise _internal(error.message) from None
        if not isinstance(patched, dict):
            raise _internal(f"the patch of webhook {invocation.name} did not produce an object")
        converter = invocation.rtype.converter
        if converter is not None:
            return converter.to_storage(patched)
        return {**patched, "apiVersion": current["apiVersion"]}

    async def _review_one(
        self,
        invocation: webhooks.Invocation,
        attributes: admission.Attributes,
        *,
        mutating: bool = False,
    ) -> Mapping[str, Any] | None:
        """Return the webhook's response, or None for an ignored failure; raise a denial."""
        hook = invocation.webhook
        name = invocation.name
        if attributes.context.dry_run:
            side_effects = hook.get("sideEffects")
            if side_effects is None:
                self._failed(hook, name, "Webhook SideEffects is nil")
                return None
            if side_effects not in ("None", "NoneOnDryRun"):
                raise errors.bad_request(
                    f"admission webhook {errors.quote(name)} does not support dry run"
                )
        try:
            response = await self._call(invocation, attributes, mutating=mutating)
        except CallError as error:
            self._failed(hook, name, str(error))
            return None
        if response.get("allowed") is True:
            return response
        raise denial(name, response.get("status"))

    def _failed(self, hook: Mapping[str, Any], name: str, reason: str) -> None:
        """Raise the 500 of a failed call, or log it when the webhook fails open."""
        message = f"failed calling webhook {errors.quote(name)}: {reason}"
        if hook.get("failurePolicy", "Fail") == "Ignore":
            logger.warning(f"Failed calling webhook, failing open {name}: {message}")
            return None
        logger.warning(f"Failed calling webhook, failing closed {name}: {message}")
        raise _internal(message)

    async def _call(
        self, invocation: webhooks.Invocation, attributes: admission.Attributes, *, mutating: bool
    ) -> Mapping[str, Any]:
        hook = invocation.webhook
        version = next(
            (item for item in hook.get("admissionReviewVersions") or () if item in REVIEW_VERSIONS),
            None,
        )
        if version is None:
            raise CallError("webhook does not accept known AdmissionReview versions")
        uid = str(uuid.uuid4())
        review = {
            "kind": "AdmissionReview",
            "apiVersion": f"admission.k8s.io/{version}",
            "request": review_request(invocation, attributes, uid),
        }
        timeout = int(hook.get("timeoutSeconds") or DEFAULT_TIMEOUT)
        client_config = hook.get("clientConfig") or {}
        target = self._target(client_config, timeout)
        context = _tls_context(client_config.get("caBundle"))
        try:
            async with asyncio.timeout(timeout):
                async with self._client().post(
                    target.url,
                    data=orjson.dumps(review),
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                    ssl=context,
                    server_hostname=target.server_hostname,
                ) as response:
                    status = response.status
                    raw = await response.read()
        except TimeoutError:
            raise CallError(
                f"failed to call webhook: Post {_q(target.url)}: context deadline exceeded"
            ) from None
        except aiohttp.ClientConnectorCertificateError as error:
            raise CallError(
                f"failed to call webhook: Post {_q(target.url)}: {_tls_problem(error, target)}"
            ) from None
        except aiohttp.ClientConnectorError as error:
            raise CallError(
                f"failed to call webhook: Post {_q(target.url)}: {_dial_problem(error)}"
            ) from None
        except aiohttp.ClientError as error:
            raise CallError(f"failed to call webhook: Post {_q(target.url)}: {error}") from None
        if status != 200:
            raise CallError(f"failed to call webhook: {_status_problem(status, raw)}")
        return _verify(raw, uid, version, mutating=mutating)

    def _target(self, client_config: Mapping[str, Any], timeout: int) -> Target:
        query = f"timeout={timeout}s"
        if client_config.get("url"):
            url = str(client_config["url"])
            parsed = urllib.parse.urlsplit(url)
            host = parsed.hostname or ""
            if not _loopback(host):
                raise CallError(
                    f"failed to call webhook: Post {_q(url)}: the local API server calls webhooks "
                    "on loopback addresses only"
                )
            joined = f"{url}&{query}" if parsed.query else f"{url}?{query}"
            return Target(joined, host)
        service = client_config.get("service") or {}
        namespace, name = str(service.get("namespace", "")), str(service.get("name", ""))
        port = int(service.get("port") or 443)
        path = str(service.get("path") or "/")
        hostname = f"{name}.{namespace}.svc"
        service_url = f"https://{hostname}:{port}{path}?{query}"
        address = self.service_endpoints.get((namespace, name, port)) or self.service_endpoints.get(
            (namespace, name)
        )
        if address is None:
            raise CallError(
                f"failed to call webhook: Post {_q(service_url)}: "
                f"service {errors.quote(name)} not found"
            )
        host = address.rsplit(":", 1)[0].strip("[]")
        if not _loopback(host):
            raise CallError(
                f"failed to call webhook: Post {_q(service_url)}: the endpoint {address} of "
                f"service {namespace}/{name} is not a loopback address"
            )
        return Target(f"https://{address}{path}?{query}", hostname)


def denial(name: str, status: Any) -> errors.APIError:
    """Turn a webhook's ``response.status`` into the error the client gets (1.32 rules)."""
    result: dict[str, Any] = dict(status) if isinstance(status, Mapping) else {}
    code = result.get("code")
    code = code if isinstance(code, int) and code >= 400 else 400
    denied_by = f"admission webhook {errors.quote(name)} denied the request"
    if result.get("message"):
        message = f"{denied_by}: {result['message']}"
    elif result.get("reason"):
        message = f"{denied_by}: {result['reason']}"
    else:
        message = f"{denied_by} without explanation"
    details = result.get("details") if isinstance(result.get("details"), dict) else None
    return errors.APIError(code, str(result.get("reason") or ""), message, details=details)


def _warnings(response: Mapping[str, Any] | None) -> list[str]:
    if response is None:
        return []
    return [str(item) for item in response.get("warnings") or () if item]


def _internal(message: str) -> errors.APIError:
    """kube-apiserver's ``NewInternalError``: the message, and the same text as the cause."""
    return errors.APIError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        details={"causes": [{"message": message}]},
    )


def _verify(raw: bytes, uid: str, version: str, *, mutating: bool) -> Mapping[str, Any]:
    try:
        review = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise CallError(f"failed to call webhook: couldn't decode the response: {error}") from None
    if not isinstance(review, dict):
        raise CallError("failed to call webhook: the response is not a JSON object")
    response = review.get("response")
    if not isinstance(response, dict):
        raise CallError("webhook response was absent")
    if response.get("uid") != uid:
        raise CallError(f"expected response.uid={_q(uid)}, got {_q(str(response.get('uid', '')))}")
    expected = f"admission.k8s.io/{version}"
    if review.get("apiVersion") != expected or review.get("kind") != "AdmissionReview":
        got = f"{review.get('apiVersion', '')}, Kind={review.get('kind', '')}"
        raise CallError(f"expected webhook response of {expected}, Kind=AdmissionReview, got {got}")
    if response.get("patch"):
        patch_type = response.get("patchType")
        if not patch_type:
            raise CallError("webhook returned response.patch but not response.patchType")
        if not mutating:
            raise CallError("validating webhook may not return response.patch")
        if patch_type != "JSONPatch":
            raise CallError(f"webhook returned invalid response.patchType of {_q(patch_type)}")
    return response


def _tls_context(ca_bundle: Any) -> ssl.SSLContext:
    if not ca_bundle:
        return ssl.create_default_context()
    try:
        pem = base64.b64decode(str(ca_bundle), validate=True).decode()
        return ssl.create_default_context(cadata=pem)
    except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError):
        raise CallError(
            "failed to call webhook: unable to load root certificates: unable to parse bytes as "
            "PEM block"
        ) from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _q(text: str) -> str:
    return errors.quote(text)


def _tls_problem(error: aiohttp.ClientConnectorCertificateError, target: Target) -> str:
    """Word a certificate failure as Go's crypto/tls does for the common cases."""
    # NOTE: only unknown authorities, expiry and name mismatches get Go's wording; other
    # verification failures carry OpenSSL's message.
    code = getattr(error.certificate_error, "verify_code", 0)
    if code in (18, 19, 20, 21):
        problem = "x509: certificate signed by unknown authority"
    elif code == 10:
        problem = "x509: certificate has expired or is not yet valid"
    elif code in (62, 64):
        problem = f"x509: certificate is not valid for {target.server_hostname}"
    else:
        problem = f"x509: {getattr(error.certificate_error, 'verify_message', error)}"
    return f"tls: failed to verify certificate: {problem}"


def _dial_problem(error: aiohttp.ClientConnectorError) -> str:
    address = f"{error.host}:{error.port}"
    if error.os_error.errno == errno.ECONNREFUSED:
        return f"dial tcp {address}: connect: connection refused"
    return f"dial tcp {address}: {error.os_error.strerror or error.os_error}"


def _status_problem(status: int, raw: bytes) -> str:
    """Word a non-200 response as client-go's REST client does."""
    if status == 404:
        return "the server could not find the requested resource"
    if status >= 500:
        body = raw.decode(errors="replace").strip()[:200]
        return f"an error on the server ({_q(body)}) has prevented the request from succeeding"
    return f"the server responded with the status code {status} but did not return more information"
