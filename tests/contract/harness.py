"""
The client and the comparison rules of the contract tests.

The same :class:`ContractClient` talks to the local API server and to a real cluster:
it sends raw HTTP requests through the ``kubernetes`` package's ``ApiClient``, which
handles the real cluster's TLS and credentials from the kubeconfig. Responses are
compared with the recorded golden responses by :func:`assert_matches`, which ignores the
placeholders (``<uid>``, ``<resourceVersion>``...) and ``managedFields``.
"""

from __future__ import annotations

import json
import pathlib
import re
import time
from collections.abc import Callable
from typing import Any

import kubernetes

GOLDEN = pathlib.Path(__file__).parent / "golden"
PLACEHOLDER = re.compile(r"^<[A-Za-z-]+>$")
IGNORED_KEYS = {"managedFields"}


def load_golden(name: str) -> dict[str, Any]:
    matches = sorted(GOLDEN.glob(f"{name}*.json"))
    assert len(matches) == 1, f"expected one golden file for {name!r}, found {matches}"
    return dict(json.loads(matches[0].read_text()))


class Response:
    def __init__(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def __repr__(self) -> str:
        return f"Response({self.status}, {json.dumps(self.body)[:2000]})"


class ContractClient:
    """Raw HTTP requests to one cluster, described by a kubeconfig."""

    def __init__(self, kubeconfig: pathlib.Path, *, token: str | None = None) -> None:
        self.api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        if token is not None:
            # Only this token: no client certificate or other credentials of the kubeconfig.
            configuration = self.api.configuration
            configuration.cert_file = None
            configuration.key_file = None
            configuration.api_key = {"BearerToken": f"Bearer {token}"}
            configuration.refresh_api_key_hook = None  # it would restore the kubeconfig's token
            self.api.close()
            self.api = kubernetes.client.ApiClient(configuration)

    def close(self) -> None:
        self.api.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str | None = None,
        accept: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Response:
        headers = {"Accept": accept, **(headers or {})}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        raw = self._call(method, path, headers, body, timeout=30)
        raw.read()
        return Response(raw.status, _parse(raw.data), dict(raw.getheaders()))

    def _call(
        self, method: str, path: str, headers: dict[str, str], body: Any, *, timeout: float
    ) -> Any:
        method, url, headers, body, post = self.api.param_serialize(
            method=method,
            resource_path=path,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(
            method,
            url,
            header_params=headers,
            body=body,
            post_params=post,
            _request_timeout=timeout,
        )

    def send(self, golden: dict[str, Any], **overrides: Any) -> Response:
        """Send a golden request, with its body or path replaced where given."""
        request = golden["request"]
        return self.request(
            request["method"],
            overrides.get("path", request["path"]),
            overrides.get("body", request.get("body")),
            content_type=request.get("contentType"),
            accept=request.get("accept") or "application/json",
        )

    def watch(self, path: str, *, max_events: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Read a watch stream until it ends or ``max_events`` non-bookmark events arrive."""
        raw = self._call(
            "GET", path, {"Accept": "application/json"}, None, timeout=timeout
        ).response
        events: list[dict[str, Any]] = []
        buffer = b""
        try:
            for chunk in raw.stream(4096, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        event = json.loads(line)
                        if event["type"] != "BOOKMARK":
                            events.append(event)
                if len(events) >= max_events:
                    break
        finally:
            raw.release_conn()
        return events

    def wait_for(
        self, path: str, condition: Callable[[Response], bool], *, timeout: float = 30.0
    ) -> Response:
        """Poll a GET until the condition is met, or fail with the last response at the timeout."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            response = self.request("GET", path)
            if condition(response):
                return response
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting on {path}: last answer {response!r}")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _parse(data: bytes | str | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data


def _message_pattern(expected: str) -> re.Pattern[str]:
    parts = re.split(r"(<[A-Za-z-]+>)", expected)
    regex = "".join(".+?" if PLACEHOLDER.match(part) else re.escape(part) for part in parts)
    return re.compile(f"^{regex}$", re.DOTALL)


def assert_matches(expected: Any, actual: Any, *, exact: bool, path: str = "") -> None:
    """Assert that a response body matches a golden one.

    Placeholders match any value of the field. With ``exact``, the response may not have
    fields that the golden response lacks (``managedFields`` aside). Without it (for real
    clusters, whose newer versions add fields) only the golden fields are checked.
    """
    where = path or "<root>"
    if isinstance(expected, str) and PLACEHOLDER.match(expected):
        return
    if isinstance(expected, str) and "<" in expected and isinstance(actual, str):
        assert _message_pattern(expected).match(actual), f"{where}: {actual!r} != {expected!r}"
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key in IGNORED_KEYS:
                continue
            assert key in actual, f"{where}: missing key {key!r} in {actual!r}"
            assert_matches(value, actual[key], exact=exact, path=f"{path}.{key}")
        if exact:
            extra = set(actual) - set(expected) - IGNORED_KEYS
            assert not extra, f"{where}: unexpected keys {sorted(extra)} in {actual!r}"
        return
    if isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), (
            f"{where}: {len(actual)} items, expected {len(expected)}"
        )
        for index, (item, got) in enumerate(zip(expected, actual, strict=True)):
            assert_matches(item, got, exact=exact, path=f"{path}[{index}]")
        return
    assert actual == expected, f"{where}: {actual!r} != {expected!r}"
