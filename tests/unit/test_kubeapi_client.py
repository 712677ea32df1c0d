"""The API client's HTTP session: proxy variables read once, not on every request."""

import base64
from pathlib import Path

import pytest
import yaml

from serverops import kubeapi

API_URL = "https://127.0.0.1:6443"
PROXY_URL = "http://127.0.0.1:3128"


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_proxy_unset_is_none() -> None:
    assert kubeapi._proxy_from_environment(API_URL) is None


def test_proxy_from_https_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY_URL)

    assert kubeapi._proxy_from_environment(API_URL) == (PROXY_URL, "")


def test_proxy_credentials_split_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://ops:p%40ss@127.0.0.1:3128")

    found = kubeapi._proxy_from_environment(API_URL)

    assert found is not None
    proxy, authorization = found
    assert proxy == PROXY_URL
    assert authorization == "Basic " + base64.b64encode(b"ops:p@ss").decode()


def test_proxy_skipped_for_no_proxy_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY_URL)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    assert kubeapi._proxy_from_environment(API_URL) is None


async def test_connect_session_ignores_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {"server": API_URL, "insecure-skip-tls-verify": True},
                    }
                ],
                "users": [{"name": "admin", "user": {"token": "secret"}}],
                "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
                "current-context": "local",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("HTTPS_PROXY", PROXY_URL)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    api_client = await kubeapi.connect()
    try:
        session = api_client.rest_client.pool_manager
        assert session.trust_env is False
        assert api_client.rest_client.proxy == PROXY_URL
        assert api_client.user_agent.startswith("serverops/")
    finally:
        await api_client.close()
