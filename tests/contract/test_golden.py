"""
Replay of the golden requests recorded from a real kube-apiserver 1.23.

The tests of this module are one scenario and run in file order. Each one sends the
recorded requests of a topic, plus the unrecorded set-up steps between them (such as
creating dependents before a foreground deletion), and compares the status code and
the body with the recorded response. Against the local server the bodies must match
field for field. Against a real cluster only the recorded fields are compared.

Where the real response depends on timing (the garbage collector and the namespace
controller run asynchronously), the test waits for the recorded state before it
compares.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract.conftest import Cluster
from tests.contract.harness import ContractClient, Response, assert_matches, load_golden

WIDGETS = "/apis/golden.example.com/v1/namespaces/golden/widgets"
CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.golden.example.com"
NAMESPACE = "/api/v1/namespaces/golden"


@pytest.fixture(scope="module")
def state(cluster: Cluster) -> Iterator[dict[str, Any]]:
    """Values that later steps reuse, such as uids and stale resourceVersions."""
    client = cluster.client
    if cluster.kind == "real":
        _remove_leftovers(client)
    memo: dict[str, Any] = {}
    yield memo
    if cluster.kind == "real":
        _remove_leftovers(client)


def _remove_leftovers(client: ContractClient) -> None:
    for path in (NAMESPACE, CRD):
        if client.request("GET", path).status == 200:
            client.request("DELETE", path)
            client.wait_for(path, lambda response: response.status == 404, timeout=120)


def replay(cluster: Cluster, name: str, **overrides: Any) -> Response:
    """Send one golden request and compare the response with the recorded one."""
    golden = load_golden(name)
    expected = overrides.pop("expected", golden["response"]["body"])
    response = cluster.client.send(golden, **overrides)
    assert response.status == golden["response"]["status"], response
    assert_matches(expected, response.body, exact=cluster.exact)
    return response


def create_widget(cluster: Cluster, name: str, **metadata: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "golden.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": "golden", **metadata},
        "spec": {"size": 3},
    }
    response = cluster.client.request("POST", WIDGETS, body)
    assert response.status == 201, response
    return dict(response.body)


def merge_patch(cluster: Cluster, name: str, patch: dict[str, Any]) -> Response:
    response = cluster.client.request(
        "PATCH", f"{WIDGETS}/{name}", patch, content_type="application/merge-patch+json"
    )
    assert response.status == 200, response
    return response


def owned_by(owner: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "golden.example.com/v1",
            "kind": "Widget",
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "blockOwnerDeletion": True,
        }
    ]


def is_gone(response: Response) -> bool:
    return response.status == 404


def test_namespace_and_crd_creation(cluster: Cluster, state: dict[str, Any]) -> None:
    replay(cluster, "001")
    replay(cluster, "002")
    cluster.client.wait_for(CRD, _established)
    replay(cluster, "003")


def _established(response: Response) -> bool:
    conditions = (response.body.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def test_discovery(cluster: Cluster, state: dict[str, Any]) -> None:
    golden_groups = load_golden("004")["response"]["body"]["groups"]
    widget_group = next(group for group in golden_groups if group["name"] == "golden.example.com")
    groups = cluster.client.request("GET", "/apis").body["groups"]
    assert widget_group in groups

    expected = copy.deepcopy(load_golden("005")["response"]["body"])
    for resource in expected["resources"]:
        resource.pop("storageVersionHash", None)
    actual = cluster.client.request("GET", "/apis/golden.example.com/v1").body
    for resource in actual["resources"]:
        resource.pop("storageVersionHash", None)
    assert_matches(expected, actual, exact=cluster.exact)

    core = {item["name"]: item for item in load_golden("006")["response"]["body"]["resources"]}
    served = {
        item["name"]: item for item in cluster.client.request("GET", "/api/v1").body["resources"]
    }
    for name in ("events", "namespaces", "namespaces/status", "namespaces/finalize"):
        for field in ("kind", "namespaced", "shortNames"):
            assert served[name].get(field) == core[name].get(field), (name, field)
        assert sorted(served[name]["verbs"]) == sorted(core[name]["verbs"]), name

    version = cluster.client.request("GET", "/version")
    assert version.status == 200
    assert set(load_golden("007")["response"]["body"]) <= set(version.body)


def test_create_defaults_prunes_and_validates(cluster: Cluster, state: dict[str, Any]) -> None:
    created = replay(cluster, "008")
    state["w1"] = created.body
    replay(cluster, "009")
    generated = copy.deepcopy(load_golden("010")["response"]["body"])
    generated["metadata"]["name"] = "<generated-name>"
    replay(cluster, "010", expected=generated)
    for name in ("011", "012", "013", "014"):
        replay(cluster, name)
    state["stale"] = replay(cluster, "015").body


def test_patches_and_generation(cluster: Cluster, state: dict[str, Any]) -> None:
    replay(cluster, "016")
    replay(cluster, "017")
    replay(cluster, "018")
    replay(cluster, "019")

    stale = state["stale"]
    body = copy.deepcopy(load_golden("020")["request"]["body"])
    body["metadata"].update(
        uid=stale["metadata"]["uid"],
        resourceVersion=stale["metadata"]["resourceVersion"],
        creationTimestamp=stale["metadata"]["creationTimestamp"],
    )
    replay(cluster, "020", body=body)

    operations = copy.deepcopy(load_golden("021")["request"]["body"])
    operations[0]["value"] = stale["metadata"]["resourceVersion"]
    replay(cluster, "021", body=operations)
    replay(cluster, "022")
    replay(cluster, "023")
    replay(cluster, "024")


def test_lists_and_tables(cluster: Cluster, state: dict[str, Any]) -> None:
    replay(cluster, "025")
    replay(cluster, "026")
    replay(cluster, "027")
    replay(cluster, "028")
    expected = copy.deepcopy(load_golden("029")["response"]["body"])
    for row in expected["rows"]:
        row["cells"][-1] = "<age>"  # the age depends on how long the replay took
    replay(cluster, "029", expected=expected)


def test_finalizers_hold_deletion(cluster: Cluster, state: dict[str, Any]) -> None:
    for name in ("030", "031", "032", "033", "034", "035"):
        replay(cluster, name)


def test_terminating_object_rules(cluster: Cluster, state: dict[str, Any]) -> None:
    for name in ("036", "037", "038", "039", "040", "041", "042"):
        replay(cluster, name)


def test_watch_resumes_and_expires(cluster: Cluster, state: dict[str, Any]) -> None:
    listed = replay(cluster, "043")
    version = listed.body["metadata"]["resourceVersion"]
    create_widget(cluster, "w2")
    merge_patch(cluster, "w2", {"spec": {"size": 2}})
    assert cluster.client.request("DELETE", f"{WIDGETS}/w2").status == 200

    for name, query in (("044", ""), ("045", "&allowWatchBookmarks=true")):
        golden = load_golden(name)
        path = f"{WIDGETS}?watch=true&resourceVersion={version}{query}&timeoutSeconds=5"
        events = cluster.client.watch(path, max_events=3)
        assert_matches(golden["response"]["events"], events, exact=cluster.exact)

    expected = copy.deepcopy(load_golden("046")["response"]["events"])
    expected[0]["object"]["message"] = "too old resource version: <rv> (<rv>)"
    events = cluster.client.watch(
        f"{WIDGETS}?watch=true&resourceVersion=1&timeoutSeconds=5", max_events=1
    )
    assert_matches(expected, events, exact=cluster.exact)


def test_foreground_deletion(cluster: Cluster, state: dict[str, Any]) -> None:
    owner = replay(cluster, "047").body
    for name in ("dep-bg", "dep-fg"):
        create_widget(cluster, name, ownerReferences=owned_by(owner))
    merge_patch(cluster, "owner", {"metadata": {"finalizers": ["golden.example.com/hold"]}})
    replay(cluster, "048")
    # The collector may have released foregroundDeletion already: the dependents have
    # no finalizers, so they go at once.
    expected = copy.deepcopy(load_golden("049")["response"]["body"])
    expected["metadata"]["finalizers"] = "<finalizers>"
    finalizers = replay(cluster, "049", expected=expected).body["metadata"]["finalizers"]
    assert finalizers in (
        ["golden.example.com/hold", "foregroundDeletion"],
        ["golden.example.com/hold"],
    )

    # The garbage collector deletes the dependents at once, even while another
    # finalizer keeps the owner. The recorded list was taken just before it acted.
    listed = cluster.client.request("GET", WIDGETS)
    owner_item = next(item for item in listed.body["items"] if item["metadata"]["name"] == "owner")
    golden_items = load_golden("050")["response"]["body"]["items"]
    expected = copy.deepcopy(next(i for i in golden_items if i["metadata"]["name"] == "owner"))
    expected["metadata"]["finalizers"] = "<finalizers>"
    assert_matches(expected, owner_item, exact=cluster.exact)
    for name in ("dep-bg", "dep-fg"):
        cluster.client.wait_for(f"{WIDGETS}/{name}", is_gone)
    cluster.client.wait_for(
        f"{WIDGETS}/owner",
        lambda r: r.body["metadata"]["finalizers"] == ["golden.example.com/hold"],
    )

    replay(cluster, "051")
    replay(cluster, "052")


def test_orphan_deletion(cluster: Cluster, state: dict[str, Any]) -> None:
    owner = create_widget(cluster, "owner2")
    create_widget(cluster, "dep-or", ownerReferences=owned_by(owner))
    replay(cluster, "053")
    cluster.client.wait_for(f"{WIDGETS}/owner2", is_gone)
    replay(cluster, "054")


def test_background_deletion(cluster: Cluster, state: dict[str, Any]) -> None:
    owner = create_widget(cluster, "owner3")
    create_widget(cluster, "dep-bg3", ownerReferences=owned_by(owner))
    replay(cluster, "055")
    cluster.client.wait_for(f"{WIDGETS}/dep-bg3", is_gone)
    replay(cluster, "056")


def test_core_event(cluster: Cluster, state: dict[str, Any]) -> None:
    expected = copy.deepcopy(load_golden("057")["response"]["body"])
    expected["metadata"]["name"] = "<generated-name>"
    replay(cluster, "057", expected=expected)


def test_namespace_deletion(cluster: Cluster, state: dict[str, Any]) -> None:
    merge_patch(cluster, "dep-or", {"metadata": {"finalizers": ["golden.example.com/hold"]}})
    replay(cluster, "058")
    cluster.client.wait_for(NAMESPACE, _reports_remaining_content)
    replay(cluster, "059")
    replay(cluster, "060")
    cluster.client.wait_for(
        f"{WIDGETS}/dep-or", lambda r: "deletionTimestamp" in r.body["metadata"]
    )
    replay(cluster, "061")

    merge_patch(cluster, "dep-or", {"metadata": {"finalizers": None}})
    cluster.client.wait_for(NAMESPACE, is_gone, timeout=120)
    replay(cluster, "062")


def _reports_remaining_content(response: Response) -> bool:
    conditions = (response.body.get("status") or {}).get("conditions") or []
    remaining = [c for c in conditions if c["type"] == "NamespaceContentRemaining"]
    return bool(remaining) and remaining[0]["message"].endswith("has 1 resource instances")
