"""The API client's HTTP session: the proxy chosen from the environment, read once at start."""

import base64
from pathlib import Path

import pytest
import yaml

from serverops import kubeapi

# The API server must not be a loopback address, because those are never proxied.
API_URL = "https://10.96.0.1:6443"
PROXY_URL = "http://127.0.0.1:3128"


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def https_proxy(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("HTTPS_PROXY", PROXY_URL)
    return monkeypatch


def test_proxy_unset_is_none() -> None:
    assert kubeapi._proxy_from_environment(API_URL) is None


def test_proxy_from_https_proxy(https_proxy: pytest.MonkeyPatch) -> None:
    assert kubeapi._proxy_from_environment(API_URL) == (PROXY_URL, "")


def test_proxy_http_url_takes_http_proxy(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("HTTP_PROXY", "http://127.0.0.2:3128")

    assert kubeapi._proxy_from_environment("http://10.96.0.1") == ("http://127.0.0.2:3128", "")


def test_proxy_upper_case_first(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("https_proxy", "http://127.0.0.2:3128")

    assert kubeapi._proxy_from_environment(API_URL) == (PROXY_URL, "")


def test_proxy_credentials_split_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://ops:p%40ss@127.0.0.1:3128")

    found = kubeapi._proxy_from_environment(API_URL)

    assert found is not None
    proxy, authorization = found
    assert proxy == PROXY_URL
    assert authorization == "Basic " + base64.b64encode(b"ops:p@ss").decode()


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost:6443",
        "https://127.0.0.1:6443",
        "https://127.1.2.3",
        "https://[::1]:6443",
        "http://127.0.0.1",
    ],
)
def test_proxy_never_for_loopback(https_proxy: pytest.MonkeyPatch, url: str) -> None:
    https_proxy.setenv("HTTP_PROXY", PROXY_URL)

    assert kubeapi._proxy_from_environment(url) is None


def test_no_proxy_ip_address(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("NO_PROXY", "10.0.0.1, 10.96.0.1")

    assert kubeapi._proxy_from_environment(API_URL) is None


def test_no_proxy_lower_case(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("no_proxy", "10.96.0.1")

    assert kubeapi._proxy_from_environment(API_URL) is None


def test_no_proxy_cidr_ipv4(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("NO_PROXY", "10.96.0.0/12")

    assert kubeapi._proxy_from_environment(API_URL) is None
    assert kubeapi._proxy_from_environment("https://10.112.0.1:6443") is not None


def test_no_proxy_cidr_ipv6(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("NO_PROXY", "fd00:10:96::/108")

    assert kubeapi._proxy_from_environment("https://[fd00:10:96::1]:6443") is None
    assert kubeapi._proxy_from_environment("https://[fd00:10:97::1]:6443") is not None


def test_no_proxy_cidr_skips_names(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("NO_PROXY", "0.0.0.0/0")

    assert kubeapi._proxy_from_environment("https://api.example.com") is not None


def test_no_proxy_star(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("NO_PROXY", "example.org,*")

    assert kubeapi._proxy_from_environment(API_URL) is None


def test_no_proxy_domain_suffix(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("NO_PROXY", "Example.com")

    assert kubeapi._proxy_from_environment("https://example.com") is None
    assert kubeapi._proxy_from_environment("https://API.example.com") is None
    assert kubeapi._proxy_from_environment("https://notexample.com") is not None


@pytest.mark.parametrize("entry", [".example.com", "*.example.com"])
def test_no_proxy_leading_dot(https_proxy: pytest.MonkeyPatch, entry: str) -> None:
    https_proxy.setenv("NO_PROXY", entry)

    assert kubeapi._proxy_from_environment("https://api.example.com") is None
    assert kubeapi._proxy_from_environment("https://example.com") is not None


def test_no_proxy_port_entry(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("NO_PROXY", "10.96.0.1:6443,[fd00::1]:6443,api.example.com:443")

    assert kubeapi._proxy_from_environment(API_URL) is None
    assert kubeapi._proxy_from_environment("https://10.96.0.1:443") is not None
    assert kubeapi._proxy_from_environment("https://[fd00::1]:6443") is None
    assert kubeapi._proxy_from_environment("https://api.example.com") is None
    assert kubeapi._proxy_from_environment("https://api.example.com:6443") is not None


def test_no_proxy_other_hosts_proxied(https_proxy: pytest.MonkeyPatch) -> None:
    https_proxy.setenv("NO_PROXY", "10.0.0.0/16,10.96.0.2,example.com,:6443,")

    assert kubeapi._proxy_from_environment(API_URL) == (PROXY_URL, "")


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
