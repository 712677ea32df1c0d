"""
The real kubectl against the local API server with tokens, RBAC and a webhook.

kubectl uses the admin's kubeconfig and acts as other users with ``--as`` and
``--as-group``, which it sends as impersonation headers. The messages checked here are
the ones kubectl prints against a real control plane: RBAC denies first, then an
admission webhook may deny with its own status code.
"""

from __future__ import annotations

import json
import pathlib
import textwrap
from typing import Any

import pytest

from tests.kube import ROOT, Kubectl, WebhookServer, deny, make_certificate

AS_ALICE = ("--as=alice", "--as-group=devs")
HOOK = "lock.compute.serverops.io"


@pytest.fixture
def crd_paths() -> list[pathlib.Path]:
    return [ROOT / "crds" / "server.yaml", ROOT / "crds" / "port.yaml"]


@pytest.fixture
def apiserver_options() -> dict[str, Any]:
    return {
        "tokens": {"admin-token": ("admin", ["system:masters"]), "carol-token": "carol"},
        "authorization": "RBAC",
    }


def apply(kubectl: Kubectl, tmp_path: pathlib.Path, manifest: str) -> str:
    path = tmp_path / "manifest.yaml"
    path.write_text(textwrap.dedent(manifest))
    result = kubectl("apply", "-f", str(path))
    assert result.stderr == ""
    return result.stdout


DELETER_ROLE = """\
    apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata: {name: server-deleter, namespace: default}
    rules:
    - apiGroups: [compute.serverops.io]
      resources: [servers]
      verbs: [get, list, delete]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata: {name: devs-delete-servers, namespace: default}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: server-deleter}
    subjects:
    - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs}
"""


def webhook_manifest(url: str, ca_bundle: str) -> str:
    return f"""\
    apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingWebhookConfiguration
    metadata: {{name: {HOOK}}}
    webhooks:
    - name: {HOOK}
      clientConfig: {{url: "{url}", caBundle: {ca_bundle}}}
      rules:
      - operations: [DELETE]
        apiGroups: [compute.serverops.io]
        apiVersions: ["*"]
        resources: [servers]
      sideEffects: None
      admissionReviewVersions: [v1]
      failurePolicy: Fail
    """


def test_rbac_then_webhook_deny_delete(kubectl: Kubectl, tmp_path: pathlib.Path) -> None:
    kubectl("apply", "-f", str(ROOT / "examples"))

    denied = kubectl("delete", "server", "web-1", *AS_ALICE, check=False)
    assert denied.returncode == 1
    assert denied.stderr.strip() == (
        'Error from server (Forbidden): servers.compute.serverops.io "web-1" is forbidden: '
        'User "alice" cannot delete resource "servers" in API group "compute.serverops.io" in '
        'the namespace "default"'
    )

    created = apply(kubectl, tmp_path, DELETER_ROLE)
    assert "role.rbac.authorization.k8s.io/server-deleter created" in created
    assert "rolebinding.rbac.authorization.k8s.io/devs-delete-servers created" in created

    certificate = make_certificate(tmp_path)
    respond = lambda review: deny(  # noqa: E731
        review, f"server {review['request']['name']} is locked", code=409
    )
    with WebhookServer(certificate, respond) as webhook:
        apply(kubectl, tmp_path, webhook_manifest(webhook.url(), certificate.ca_bundle))
        expected = (
            f'Error from server: admission webhook "{HOOK}" denied the request: '
            "server web-1 is locked"
        )
        refused = kubectl("delete", "server", "web-1", *AS_ALICE, "-v=6", check=False)
        assert refused.returncode == 1
        assert refused.stderr.strip().splitlines()[-1] == expected
        assert "409 Conflict" in refused.stderr

        dry_run = kubectl("delete", "server", "web-1", "--dry-run=server", *AS_ALICE, check=False)
        assert dry_run.returncode == 1
        assert dry_run.stderr.strip() == expected

        review = webhook.reviews[0]["request"]
        assert review["userInfo"]["username"] == "alice"
        assert review["userInfo"]["groups"] == ["devs", "system:authenticated"]
        assert [item["request"]["dryRun"] for item in webhook.reviews] == [False, True]

    server = json.loads(kubectl("get", "server", "web-1", "-o", "json").stdout)
    assert "deletionTimestamp" not in server["metadata"]


def test_unknown_token_is_unauthorized(kubectl: Kubectl) -> None:
    result = kubectl("get", "servers", "--token=wrong", check=False)
    assert result.returncode == 1
    # Discovery fails first, so kubectl words the 401 of its discovery client.
    assert result.stderr.strip().splitlines()[-1] == (
        "error: You must be logged in to the server (the server has asked for the client to "
        "provide credentials)"
    )


def test_impersonation_needs_permission(kubectl: Kubectl) -> None:
    result = kubectl("get", "servers", "--token=carol-token", "--as=alice", "-v=8", check=False)
    assert result.returncode == 1
    # The 403 comes on discovery, whose client cannot decode a Status, so kubectl prints
    # "unknown"; the body it logs is the real server's message.
    assert result.stderr.strip().splitlines()[-1] == "Error from server (Forbidden): unknown"
    logged = result.stderr.replace("\\", "")
    assert (
        'users "alice" is forbidden: User "carol" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    ) in logged


def test_auth_can_i(kubectl: Kubectl, tmp_path: pathlib.Path) -> None:
    assert kubectl("auth", "can-i", "delete", "servers", *AS_ALICE, check=False).stdout == "no\n"
    apply(kubectl, tmp_path, DELETER_ROLE)
    assert kubectl("auth", "can-i", "delete", "servers", *AS_ALICE).stdout == "yes\n"
    assert (
        kubectl(
            "auth", "can-i", "delete", "servers", "-n", "kube-system", *AS_ALICE, check=False
        ).stdout
        == "no\n"
    )
    assert kubectl("auth", "can-i", "get", "/version", *AS_ALICE).stdout == "yes\n"
