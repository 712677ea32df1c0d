"""
RBAC: Roles, ClusterRoles and their bindings decide every request of a non-admin.

The server runs with tokens for an admin (``system:masters``), alice (group ``devs``)
and the service account ``serverops:operator``. Each test grants something with the
admin's token and checks what the others may do.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from serverops.apiserver.authentication import service_account
from tests.apiserver.conftest import API, WIDGETS
from tests.kube import WebhookServer, deny, make_certificate, validating_webhook_configuration

RBAC = "/apis/rbac.authorization.k8s.io/v1"
ADMIN = {"Authorization": "Bearer admin-token"}
ALICE = {"Authorization": "Bearer alice-token"}
ROBOT = {"Authorization": "Bearer robot-token"}
WIDGET_GROUP = "golden.example.com"


@pytest.fixture
def apiserver_options() -> dict[str, Any]:
    return {
        "tokens": {
            "admin-token": ("admin", ["system:masters"]),
            "alice-token": ("alice", ["devs"]),
            "robot-token": service_account("serverops", "operator"),
        },
        "authorization": "RBAC",
    }


async def admin(api: API, method: str, path: str, body: Any = None) -> dict[str, Any]:
    status, result = await api.request(method, path, body, headers=ADMIN)
    assert status in (200, 201), result
    return dict(result)


async def grant(
    api: API,
    rules: list[dict[str, Any]],
    *,
    subject: dict[str, Any] | None = None,
    namespace: str | None = "default",
    name: str = "grant",
) -> None:
    """Create a Role (or a ClusterRole without namespace) and bind it to alice by default."""
    subject = subject or {"kind": "User", "name": "alice"}
    if namespace:
        role_path = f"{RBAC}/namespaces/{namespace}/roles"
        binding_path = f"{RBAC}/namespaces/{namespace}/rolebindings"
        kind, binding_kind = "Role", "RoleBinding"
    else:
        role_path, binding_path = f"{RBAC}/clusterroles", f"{RBAC}/clusterrolebindings"
        kind, binding_kind = "ClusterRole", "ClusterRoleBinding"
    await admin(api, "POST", role_path, {"kind": kind, "metadata": {"name": name}, "rules": rules})
    binding = {
        "kind": binding_kind,
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": [subject],
    }
    await admin(api, "POST", binding_path, binding)


def rule(verbs: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": [WIDGET_GROUP], "resources": resources, "verbs": verbs, **extra}


async def status_of(api: API, method: str, path: str, headers: dict[str, str]) -> int:
    body = None
    if method in ("POST", "PUT"):
        body = {"kind": "Widget", "metadata": {"name": "new"}, "spec": {"size": 1}}
    status, _ = await api.request(method, path, body, headers=headers)
    return status


async def test_forbidden_status_shape(api: API) -> None:
    await admin(
        api, "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "web-1"}, "spec": {"size": 1}}
    )
    status, body = await api.request("DELETE", f"{WIDGETS}/web-1", headers=ALICE)
    assert status == 403
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": (
            'widgets.golden.example.com "web-1" is forbidden: User "alice" cannot delete '
            'resource "widgets" in API group "golden.example.com" in the namespace "default"'
        ),
        "reason": "Forbidden",
        "details": {"name": "web-1", "group": "golden.example.com", "kind": "widgets"},
        "code": 403,
    }
    status, body = await api.request("GET", "/apis/golden.example.com/v1/widgets", headers=ALICE)
    assert status == 403
    assert body["message"] == (
        'widgets.golden.example.com is forbidden: User "alice" cannot list resource "widgets" '
        'in API group "golden.example.com" at the cluster scope'
    )
    assert body["details"] == {"group": "golden.example.com", "kind": "widgets"}
    assert api.server.stats.count(verb="delete", code=403, user="alice") == 1


async def test_role_allows_only_its_verbs(api: API) -> None:
    await admin(
        api, "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    await grant(api, [rule(["get", "list", "watch"], ["widgets"])])
    assert await status_of(api, "GET", f"{WIDGETS}/a", ALICE) == 200
    assert await status_of(api, "GET", WIDGETS, ALICE) == 200
    assert await status_of(api, "GET", f"{WIDGETS}?watch=1&timeoutSeconds=0", ALICE) == 200
    assert await status_of(api, "POST", WIDGETS, ALICE) == 403
    assert await status_of(api, "DELETE", f"{WIDGETS}/a", ALICE) == 403
    assert await status_of(api, "DELETE", WIDGETS, ALICE) == 403  # deletecollection
    # A Role binds only in its namespace.
    other = "/apis/golden.example.com/v1/namespaces/kube-public/widgets"
    assert await status_of(api, "GET", other, ALICE) == 403


async def test_subresource_needs_its_own_rule(api: API) -> None:
    await admin(
        api, "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    await grant(api, [rule(["get", "patch"], ["widgets"])])
    patch = {"status": {"status": "Ready"}}
    status, body = await api.patch(f"{WIDGETS}/a/status", patch, headers=ALICE)
    assert status == 403
    assert 'cannot patch resource "widgets/status"' in body["message"]

    await grant(api, [rule(["patch"], ["widgets/status"])], name="status")
    status, _ = await api.patch(f"{WIDGETS}/a/status", patch, headers=ALICE)
    assert status == 200


async def test_resource_names(api: API) -> None:
    for name in ("a", "b"):
        await admin(
            api,
            "POST",
            WIDGETS,
            {"kind": "Widget", "metadata": {"name": name}, "spec": {"size": 1}},
        )
    await grant(api, [rule(["get", "list", "delete"], ["widgets"], resourceNames=["a"])])
    assert await status_of(api, "GET", f"{WIDGETS}/a", ALICE) == 200
    assert await status_of(api, "GET", f"{WIDGETS}/b", ALICE) == 403
    assert await status_of(api, "GET", WIDGETS, ALICE) == 403  # a list has no name
    assert await status_of(api, "GET", f"{WIDGETS}?fieldSelector=metadata.name%3Da", ALICE) == 200
    assert await status_of(api, "DELETE", f"{WIDGETS}/a", ALICE) == 200


@pytest.mark.parametrize(
    ("granted", "allowed"),
    [
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, True),
        # Unlike webhook rules, "*" in RBAC covers subresources too.
        ({"apiGroups": [WIDGET_GROUP], "resources": ["*"], "verbs": ["patch"]}, True),
        ({"apiGroups": [WIDGET_GROUP], "resources": ["widgets"], "verbs": ["patch"]}, False),
        ({"apiGroups": [WIDGET_GROUP], "resources": ["*/status"], "verbs": ["patch"]}, True),
        ({"apiGroups": [WIDGET_GROUP], "resources": ["widgets/*"], "verbs": ["patch"]}, False),
        ({"apiGroups": [""], "resources": ["widgets/status"], "verbs": ["patch"]}, False),
    ],
)
async def test_wildcards_on_status(api: API, granted: dict[str, Any], allowed: bool) -> None:
    await admin(
        api, "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    await grant(api, [granted])
    status, _ = await api.patch(f"{WIDGETS}/a/status", {"status": {"status": "x"}}, headers=ALICE)
    assert (status == 200) is allowed


async def test_group_binding_with_cluster_role(api: API) -> None:
    await grant(
        api,
        [rule(["list"], ["widgets"])],
        subject={"kind": "Group", "name": "devs"},
        namespace=None,
    )
    assert await status_of(api, "GET", "/apis/golden.example.com/v1/widgets", ALICE) == 200
    assert await status_of(api, "GET", "/apis/golden.example.com/v1/widgets", ROBOT) == 403


async def test_service_account_subject(api: API) -> None:
    # A RoleBinding's ServiceAccount subject without namespace means the binding's one.
    await admin(api, "POST", "/api/v1/namespaces", {"metadata": {"name": "serverops"}})
    await grant(
        api,
        [rule(["list"], ["widgets"])],
        subject={"kind": "ServiceAccount", "name": "operator"},
        namespace="serverops",
    )
    path = "/apis/golden.example.com/v1/namespaces/serverops/widgets"
    assert await status_of(api, "GET", path, ROBOT) == 200
    assert await status_of(api, "GET", WIDGETS, ROBOT) == 403


async def test_cluster_role_through_role_binding(api: API) -> None:
    await admin(
        api,
        "POST",
        f"{RBAC}/clusterroles",
        {"metadata": {"name": "widget-reader"}, "rules": [rule(["list"], ["widgets"])]},
    )
    binding = {
        "metadata": {"name": "read"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "widget-reader",
        },
        "subjects": [{"kind": "User", "name": "alice"}],
    }
    created = await admin(api, "POST", f"{RBAC}/namespaces/default/rolebindings", binding)
    assert created["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert await status_of(api, "GET", WIDGETS, ALICE) == 200
    assert await status_of(api, "GET", "/apis/golden.example.com/v1/widgets", ALICE) == 403


async def test_missing_role_is_named_in_the_denial(api: API) -> None:
    binding = {
        "metadata": {"name": "dangling"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gone"},
        "subjects": [{"kind": "User", "name": "alice"}],
    }
    await admin(api, "POST", f"{RBAC}/clusterrolebindings", binding)
    status, body = await api.request("GET", WIDGETS, headers=ALICE)
    assert status == 403
    assert body["message"].endswith(
        ': RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'
    )


async def test_non_resource_urls(api: API) -> None:
    for path in (
        "/version",
        "/healthz",
        "/api",
        "/apis",
        "/apis/golden.example.com/v1",
        "/openapi/v3",
    ):
        assert await status_of(api, "GET", path, ALICE) == 200, path
    status, body = await api.request("GET", "/metrics", headers=ALICE)
    assert status == 403
    assert body["message"] == 'forbidden: User "alice" cannot get path "/metrics"'
    assert body["details"] == {}


async def test_forbidden_before_not_found(api: API) -> None:
    status, body = await api.request("GET", "/apis/nothing.example.com/v1/things", headers=ALICE)
    assert status == 403
    assert 'cannot list resource "things" in API group "nothing.example.com"' in body["message"]


async def test_default_roles_exist(api: API) -> None:
    roles = await admin(api, "GET", f"{RBAC}/clusterroles")
    names = {item["metadata"]["name"] for item in roles["items"]}
    assert {"cluster-admin", "system:discovery", "system:basic-user"} <= names
    bindings = await admin(api, "GET", f"{RBAC}/clusterrolebindings/cluster-admin")
    assert bindings["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
    ]


async def test_role_validation(api: API) -> None:
    bad = {"metadata": {"name": "bad"}, "rules": [{"verbs": [], "nonResourceURLs": ["/x"]}]}
    status, body = await api.request("POST", f"{RBAC}/namespaces/default/roles", bad, headers=ADMIN)
    assert status == 422
    assert [cause["field"] for cause in body["details"]["causes"]] == [
        "rules[0].verbs",
        "rules[0].nonResourceURLs",
    ]
    await grant(api, [rule(["get"], ["widgets"])])
    path = f"{RBAC}/namespaces/default/rolebindings/grant"
    status, body = await api.patch(path, {"roleRef": {"name": "other"}}, headers=ADMIN)
    assert status == 422
    assert "cannot change roleRef" in body["message"]


async def test_rbac_before_webhooks(api: API, tmp_path: Any) -> None:
    await admin(
        api, "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    certificate = make_certificate(tmp_path)
    async with WebhookServer(certificate, lambda review: deny(review, "locked", code=409)) as hook:
        rules = [
            {
                "operations": ["DELETE"],
                "apiGroups": [WIDGET_GROUP],
                "apiVersions": ["*"],
                "resources": ["widgets"],
            }
        ]
        configuration = validating_webhook_configuration(
            "lock.golden.example.com", url=hook.url(), ca_bundle=certificate.ca_bundle, rules=rules
        )
        await admin(
            api,
            "POST",
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            configuration,
        )
        assert await status_of(api, "DELETE", f"{WIDGETS}/a", ALICE) == 403
        assert hook.reviews == []
        await grant(api, [rule(["delete"], ["widgets"])])
        status, body = await api.request("DELETE", f"{WIDGETS}/a", headers=ALICE)
        assert status == 409
        assert hook.reviews[0]["request"]["userInfo"] == {
            "username": "alice",
            "groups": ["devs", "system:authenticated"],
        }


async def test_self_subject_access_review(api: API) -> None:
    await grant(api, [rule(["delete"], ["widgets"])])
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"

    async def may(verb: str, namespace: str) -> bool:
        attributes = {"verb": verb, "group": WIDGET_GROUP, "resource": "widgets"}
        spec = {"resourceAttributes": {**attributes, "namespace": namespace}}
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": spec,
        }
        status, review = await api.request("POST", path, body, headers=ALICE)
        assert status == 201, review
        return bool(review["status"]["allowed"])

    assert await may("delete", "default") is True
    assert await may("delete", "kube-system") is False
    assert await may("create", "default") is False
    status, _ = await api.request("GET", path, headers=ADMIN)
    assert status == 405


async def test_apply_that_creates_needs_create(api: API) -> None:
    await grant(api, [rule(["patch"], ["widgets"])])
    body = {"apiVersion": "golden.example.com/v1", "kind": "Widget", "metadata": {"name": "a"}}
    body["spec"] = {"size": 1}
    path = f"{WIDGETS}/a?fieldManager=tester"
    apply = "application/apply-patch+yaml"
    status, result = await api.patch(path, json.dumps(body), apply, headers=ALICE)
    assert status == 403
    assert result["message"] == (
        'widgets.golden.example.com "a" is forbidden: User "alice" cannot create resource '
        '"widgets" in API group "golden.example.com" in the namespace "default"'
    )
    await grant(api, [rule(["create"], ["widgets"])], name="create")
    status, _ = await api.patch(path, json.dumps(body), apply, headers=ALICE)
    assert status == 201
