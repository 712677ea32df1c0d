"""
How a cluster with RBAC rejects requests: the 401 and 403 Status bodies, and a webhook's
denial.

Runs against the local API server with tokens and RBAC, and against the real cluster of
``KUBECONFIG`` when it is set. The real cluster must let the kubeconfig's user
impersonate, as cluster admins may. A real cluster cannot reach a webhook on this
machine's loopback address, so the webhook test runs locally only.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from serverops.apiserver import ThreadedAPIServer
from tests.contract.harness import ContractClient
from tests.kube import WebhookServer, deny, make_certificate, validating_webhook_configuration

NOBODY = "serverops-contract-nobody"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module", params=["local", "real"])
def kubeconfig(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[pathlib.Path]:
    if request.param == "real":
        path = os.environ.get("KUBECONFIG")
        if not path:
            pytest.skip("KUBECONFIG is not set, so there is no real cluster to compare with")
        yield pathlib.Path(path)
        return
    tokens = {"admin-token": ("admin", ["system:masters"]), "bob-token": "bob"}
    with ThreadedAPIServer(tokens=tokens, authorization="RBAC") as server:
        yield server.write_kubeconfig(tmp_path_factory.mktemp("access") / "kubeconfig")


@pytest.fixture(scope="module")
def admin(kubeconfig: pathlib.Path) -> Iterator[ContractClient]:
    client = ContractClient(kubeconfig)
    yield client
    client.close()


def local_only(kubeconfig: pathlib.Path) -> None:
    if kubeconfig == pathlib.Path(os.environ.get("KUBECONFIG", "/nonexistent")):
        pytest.skip("needs the local server's users or a webhook on this machine")


def test_unknown_token(kubeconfig: pathlib.Path) -> None:
    client = ContractClient(kubeconfig, token="serverops-contract-wrong-token")
    try:
        response = client.request("GET", CONFIGMAPS)
    finally:
        client.close()
    assert response.status == 401
    assert response.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def forbidden(message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    }


def test_forbidden_list(admin: ContractClient) -> None:
    response = admin.request("GET", CONFIGMAPS, headers={"Impersonate-User": NOBODY})
    assert response.status == 403
    assert response.body == forbidden(
        f'configmaps is forbidden: User "{NOBODY}" cannot list resource "configmaps" in API '
        'group "" in the namespace "default"',
        {"kind": "configmaps"},
    )


def test_forbidden_named_object(admin: ContractClient) -> None:
    path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin"
    response = admin.request("DELETE", path, headers={"Impersonate-User": NOBODY})
    assert response.status == 403
    assert response.body == forbidden(
        f'clusterroles.rbac.authorization.k8s.io "cluster-admin" is forbidden: User "{NOBODY}" '
        'cannot delete resource "clusterroles" in API group "rbac.authorization.k8s.io" at the '
        "cluster scope",
        {"name": "cluster-admin", "group": "rbac.authorization.k8s.io", "kind": "clusterroles"},
    )


def test_forbidden_path(admin: ContractClient) -> None:
    response = admin.request("GET", "/metrics", headers={"Impersonate-User": NOBODY})
    assert response.status == 403
    assert response.body == forbidden(f'forbidden: User "{NOBODY}" cannot get path "/metrics"', {})


def test_discovery_allowed_to_authenticated(admin: ContractClient) -> None:
    for path in ("/version", "/api", "/apis"):
        response = admin.request("GET", path, headers={"Impersonate-User": NOBODY})
        assert response.status == 200, path


def test_impersonation_denied(kubeconfig: pathlib.Path) -> None:
    local_only(kubeconfig)
    client = ContractClient(kubeconfig, token="bob-token")
    try:
        response = client.request("GET", CONFIGMAPS, headers={"Impersonate-User": "alice"})
    finally:
        client.close()
    assert response.status == 403
    assert response.body == forbidden(
        'users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API '
        'group "" at the cluster scope',
        {"name": "alice", "kind": "users"},
    )


def test_webhook_denial(
    admin: ContractClient, kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    local_only(kubeconfig)
    certificate = make_certificate(tmp_path)
    name = "configmaps.contract.serverops.io"
    rules = [
        {
            "operations": ["CREATE"],
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["configmaps"],
        }
    ]
    respond = lambda review: deny(review, "no configuration today", code=409)  # noqa: E731
    with WebhookServer(certificate, respond) as webhook:
        configuration = validating_webhook_configuration(
            name, url=webhook.url(), ca_bundle=certificate.ca_bundle, rules=rules
        )
        path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        assert admin.request("POST", path, configuration).status == 201
        try:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
            response = admin.request("POST", CONFIGMAPS, body)
        finally:
            admin.request("DELETE", f"{path}/{name}")
    assert response.status == 409
    assert response.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'admission webhook "{name}" denied the request: no configuration today',
        "code": 409,
    }
