"""Impersonation headers: who may send them, and who the request then acts as."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apiserver.conftest import API, WIDGETS
from tests.apiserver.test_rbac import ADMIN, RBAC, admin, grant

BOB = {"Authorization": "Bearer bob-token"}


@pytest.fixture
def apiserver_options() -> dict[str, Any]:
    return {
        "tokens": {"admin-token": ("admin", ["system:masters"]), "bob-token": ("bob", [])},
        "authorization": "RBAC",
    }


async def test_masters_may_impersonate_anyone(api: API) -> None:
    headers = {**ADMIN, "Impersonate-User": "alice", "Impersonate-Group": "devs"}
    status, body = await api.request("GET", WIDGETS, headers=headers)
    assert status == 403
    assert body["message"].startswith('widgets.golden.example.com is forbidden: User "alice"')

    await grant(
        api,
        [{"apiGroups": ["*"], "resources": ["widgets"], "verbs": ["list"]}],
        subject={"kind": "Group", "name": "devs"},
    )
    status, _ = await api.request("GET", WIDGETS, headers=headers)
    assert status == 200
    assert api.server.stats.count(resource="widgets", user="alice", code=200) == 1


async def test_impersonation_needs_the_verb(api: API) -> None:
    status, body = await api.request("GET", WIDGETS, headers={**BOB, "Impersonate-User": "alice"})
    assert status == 403
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": (
            'users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API '
            'group "" at the cluster scope'
        ),
        "reason": "Forbidden",
        "details": {"name": "alice", "kind": "users"},
        "code": 403,
    }


async def test_impersonation_limited_by_resource_names(api: API) -> None:
    rules = [
        {
            "apiGroups": [""],
            "resources": ["users"],
            "verbs": ["impersonate"],
            "resourceNames": ["alice"],
        },
        {"apiGroups": ["*"], "resources": ["widgets"], "verbs": ["list"]},
    ]
    await grant(api, rules, subject={"kind": "User", "name": "bob"}, namespace=None)
    await grant(
        api,
        [{"apiGroups": ["*"], "resources": ["widgets"], "verbs": ["list"]}],
        name="alice-reads",
        namespace=None,
    )
    status, _ = await api.request("GET", WIDGETS, headers={**BOB, "Impersonate-User": "alice"})
    assert status == 200
    status, _ = await api.request("GET", WIDGETS, headers={**BOB, "Impersonate-User": "carol"})
    assert status == 403

    # Each requested group needs its own permission.
    headers = {**BOB, "Impersonate-User": "alice", "Impersonate-Group": "system:masters"}
    status, body = await api.request("GET", WIDGETS, headers=headers)
    assert status == 403
    assert body["message"].startswith('groups "system:masters" is forbidden: User "bob" cannot')


async def test_service_account_impersonation_is_namespaced(api: API) -> None:
    user = "system:serviceaccount:serverops:operator"
    status, body = await api.request("GET", WIDGETS, headers={**BOB, "Impersonate-User": user})
    assert status == 403
    assert body["message"] == (
        'serviceaccounts "operator" is forbidden: User "bob" cannot impersonate resource '
        '"serviceaccounts" in API group "" in the namespace "serverops"'
    )


async def test_impersonated_service_account_gets_its_groups(api: API) -> None:
    user = "system:serviceaccount:serverops:operator"
    await grant(
        api,
        [{"apiGroups": ["*"], "resources": ["widgets"], "verbs": ["list"]}],
        subject={"kind": "Group", "name": "system:serviceaccounts:serverops"},
        namespace=None,
    )
    status, _ = await api.request("GET", WIDGETS, headers={**ADMIN, "Impersonate-User": user})
    assert status == 200


async def test_uid_and_extra_are_checked(api: API) -> None:
    headers = {**BOB, "Impersonate-User": "alice", "Impersonate-Uid": "1234"}
    await grant(
        api,
        [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}],
        subject={"kind": "User", "name": "bob"},
        namespace=None,
    )
    status, body = await api.request("GET", WIDGETS, headers=headers)
    assert status == 403
    assert body["message"].startswith(
        'uids.authentication.k8s.io "1234" is forbidden: User "bob" cannot impersonate resource '
        '"uids" in API group "authentication.k8s.io"'
    )
    headers = {**BOB, "Impersonate-User": "alice", "Impersonate-Extra-Scopes": "view"}
    status, body = await api.request("GET", WIDGETS, headers=headers)
    assert status == 403
    assert 'cannot impersonate resource "userextras/scopes"' in body["message"]


async def test_groups_without_user_is_500(api: API) -> None:
    async with api.session.get(WIDGETS, headers={**ADMIN, "Impersonate-Group": "devs"}) as response:
        assert response.status == 500
        assert response.content_type == "text/plain"
        text = await response.text()
    assert text == (
        f'Internal Server Error: "{WIDGETS}": requested [{{Group  devs    }}] without '
        "impersonating a user"
    )


async def test_impersonated_rbac_objects(api: API) -> None:
    # The default bindings give every authenticated user discovery.
    headers = {**ADMIN, "Impersonate-User": "nobody"}
    status, _ = await api.request("GET", "/apis", headers=headers)
    assert status == 200
    bindings = await admin(api, "GET", f"{RBAC}/clusterrolebindings/system:discovery")
    assert bindings["subjects"][0]["name"] == "system:authenticated"
