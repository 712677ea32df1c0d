"""Bearer tokens, the token file, anonymous requests and kubeconfigs per user."""

from __future__ import annotations

import pathlib
from typing import Any

import aiohttp
import kubernetes
import pytest

from serverops.apiserver import LocalAPIServer, ThreadedAPIServer
from serverops.apiserver.authentication import load_token_file, service_account
from tests.apiserver.conftest import API, WIDGETS

UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


@pytest.fixture
def apiserver_options() -> dict[str, Any]:
    return {
        "tokens": {
            "admin-token": ("admin", ["system:masters"]),
            "alice-token": ("alice", ["devs"]),
            "robot-token": service_account("serverops", "operator"),
        }
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("wrong"), {"Authorization": "Basic YWRtaW46YWRtaW4="}, {"Authorization": "Bearer"}],
)
async def test_missing_or_unknown_token_is_401(api: API, headers: dict[str, str]) -> None:
    for path in (WIDGETS, "/version", "/api"):
        status, body = await api.request("GET", path, headers=headers)
        assert status == 401, path
        assert body == UNAUTHORIZED


async def test_known_token_acts_as_its_user(api: API) -> None:
    status, _ = await api.request("GET", WIDGETS, headers=bearer("alice-token"))
    assert status == 200
    assert api.server.stats.count(resource="widgets", user="alice", code=200) == 1


async def test_rejected_requests_are_counted(api: API) -> None:
    await api.request("GET", WIDGETS, headers=bearer("wrong"))
    assert api.server.stats.count(verb="list", resource="widgets", code=401, user="") == 1


async def test_token_users_get_authenticated_group(api: API) -> None:
    tokens = api.server.authenticator
    assert tokens is not None
    assert tokens.tokens["alice-token"].groups == ("devs", "system:authenticated")
    assert tokens.tokens["robot-token"].username == "system:serviceaccount:serverops:operator"
    assert tokens.tokens["robot-token"].groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:serverops",
        "system:authenticated",
    )


async def test_anonymous_requests_when_enabled(tmp_path: pathlib.Path) -> None:
    server = LocalAPIServer(tokens={"t": "someone"}, anonymous=True, authorization="RBAC")
    async with server:
        connector = aiohttp.TCPConnector(ssl=server.client_ssl_context() or True)
        async with aiohttp.ClientSession(base_url=server.url, connector=connector) as session:
            async with session.get("/version") as response:
                assert response.status == 200  # system:public-info-viewer
            async with session.get("/api") as response:
                assert response.status == 403  # discovery is for authenticated users
                body = await response.json()
            async with session.get("/version", headers=bearer("bad")) as bad:
                assert bad.status == 401
    assert body["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'


def test_token_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(
        "# token,user,uid,groups\n"
        'admin-token,admin,1,"system:masters"\n'
        'dev-token,bob,2,"devs,ops"\n'
        "plain-token,carol,3\n"
    )
    tokens = load_token_file(path)
    assert tokens["admin-token"].groups == ("system:masters", "system:authenticated")
    assert tokens["dev-token"].username == "bob"
    assert tokens["dev-token"].uid == "2"
    assert tokens["dev-token"].groups == ("devs", "ops", "system:authenticated")
    assert tokens["plain-token"].groups == ("system:authenticated",)

    path.write_text("only,two\n")
    with pytest.raises(ValueError, match="line 1: expected token,user,uid"):
        load_token_file(path)


def test_kubeconfig_per_user(tmp_path: pathlib.Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('admin-token,admin,1,"system:masters"\nbob-token,bob,2\n')
    with ThreadedAPIServer(token_file=tokens, authorization="RBAC") as server:
        admin = server.write_kubeconfig(tmp_path / "admin")
        bob = server.write_kubeconfig(tmp_path / "bob", user="bob")
        assert server.kubeconfig_path == admin

        with kubernetes.config.new_client_from_config(str(admin)) as client:
            names = [
                item.metadata.name
                for item in kubernetes.client.CoreV1Api(client).list_namespace().items
            ]
            assert "default" in names
        with kubernetes.config.new_client_from_config(str(bob)) as client:
            with pytest.raises(kubernetes.client.ApiException) as raised:
                kubernetes.client.CoreV1Api(client).list_namespace()
        assert raised.value.status == 403
        with pytest.raises(ValueError, match="no token is configured for 'carol'"):
            server.write_kubeconfig(tmp_path / "carol", user="carol")


def test_kubeconfig_without_tokens_has_no_credentials(tmp_path: pathlib.Path) -> None:
    with ThreadedAPIServer() as server:
        path = server.write_kubeconfig(tmp_path / "config")
        assert "token" not in path.read_text()
        with pytest.raises(ValueError, match="no tokens are configured"):
            server.write_kubeconfig(tmp_path / "bob", user="bob")
