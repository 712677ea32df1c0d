"""
Validating admission webhooks: what the server sends, and what the client gets back.

Each test runs a small HTTPS webhook on 127.0.0.1 with a self-signed certificate and a
ValidatingWebhookConfiguration pointing at it, then writes widgets through the API.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.apiserver.conftest import API, WIDGETS
from tests.kube import (
    Certificate,
    Review,
    WebhookServer,
    allow,
    deny,
    make_certificate,
    validating_webhook_configuration,
)

CONFIGURATIONS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
WIDGET_RULE = {
    "operations": ["CREATE", "UPDATE", "DELETE"],
    "apiGroups": ["golden.example.com"],
    "apiVersions": ["v1"],
    "resources": ["widgets"],
}
HOOK = "widgets.golden.example.com"


@pytest.fixture
def certificate(tmp_path: pathlib.Path) -> Certificate:
    return make_certificate(tmp_path)


@pytest.fixture
async def webhook(certificate: Certificate) -> AsyncIterator[WebhookServer]:
    async with WebhookServer(certificate) as server:
        yield server


async def install(api: API, **fields: Any) -> dict[str, Any]:
    """Create the configuration of one webhook named ``HOOK``, widgets' rule by default."""
    fields.setdefault("rules", [WIDGET_RULE])
    body = validating_webhook_configuration(HOOK, **fields)
    status, created = await api.request("POST", CONFIGURATIONS, body)
    assert status == 201, created
    return dict(created)


async def install_for(api: API, webhook: WebhookServer, **fields: Any) -> dict[str, Any]:
    return await install(api, url=webhook.url(), ca_bundle=webhook.certificate.ca_bundle, **fields)


async def test_create_review_contents(api: API, webhook: WebhookServer) -> None:
    await install_for(api, webhook)
    created = await api.create_widget("a")

    assert len(webhook.reviews) == 1
    review = webhook.reviews[0]
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert review["kind"] == "AdmissionReview"
    request = review["request"]
    assert request["kind"] == {"group": "golden.example.com", "version": "v1", "kind": "Widget"}
    assert request["resource"] == {
        "group": "golden.example.com",
        "version": "v1",
        "resource": "widgets",
    }
    assert request["requestKind"] == request["kind"]
    assert request["requestResource"] == request["resource"]
    assert "subResource" not in request
    assert request["name"] == "a"
    assert request["namespace"] == "default"
    assert request["operation"] == "CREATE"
    assert request["userInfo"] == {
        "username": "system:admin",
        "groups": ["system:masters", "system:authenticated"],
    }
    assert request["object"]["metadata"]["uid"] == created["metadata"]["uid"]
    assert request["object"]["spec"]["color"] == "red"  # defaulted before admission
    assert request["oldObject"] is None
    assert request["dryRun"] is False
    assert request["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}


async def test_delete_review_has_old_object_only(api: API, webhook: WebhookServer) -> None:
    await api.create_widget("a")
    await install_for(api, webhook)
    status, _ = await api.request(
        "DELETE", f"{WIDGETS}/a", {"propagationPolicy": "Foreground", "gracePeriodSeconds": 0}
    )
    assert status == 200

    request = webhook.reviews[0]["request"]
    assert request["operation"] == "DELETE"
    assert request["object"] is None
    assert request["oldObject"]["metadata"]["name"] == "a"
    assert request["options"] == {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "propagationPolicy": "Foreground",
        "gracePeriodSeconds": 0,
    }


async def test_patch_reviews_as_update(api: API, webhook: WebhookServer) -> None:
    await api.create_widget("a")
    await install_for(api, webhook)
    status, _ = await api.patch(f"{WIDGETS}/a?fieldManager=tester", {"spec": {"size": 4}})
    assert status == 200

    request = webhook.reviews[0]["request"]
    assert request["operation"] == "UPDATE"
    assert request["object"]["spec"]["size"] == 4
    assert request["oldObject"]["spec"]["size"] == 3
    assert request["options"] == {
        "kind": "UpdateOptions",
        "apiVersion": "meta.k8s.io/v1",
        "fieldManager": "tester",
    }


async def test_status_subresource_needs_its_rule(api: API, webhook: WebhookServer) -> None:
    await api.create_widget("a")
    await install_for(api, webhook)
    status, _ = await api.patch(f"{WIDGETS}/a/status", {"status": {"status": "Ready"}})
    assert status == 200
    assert webhook.reviews == []

    status_rule = {**WIDGET_RULE, "resources": ["widgets/status"]}
    await api.request("DELETE", f"{CONFIGURATIONS}/{HOOK}")
    await install_for(api, webhook, rules=[status_rule])
    status, _ = await api.patch(f"{WIDGETS}/a/status", {"status": {"status": "Done"}})
    assert status == 200
    request = webhook.reviews[0]["request"]
    assert request["subResource"] == "status"
    assert request["requestSubResource"] == "status"
    assert request["object"]["status"]["status"] == "Done"


@pytest.mark.parametrize(
    ("resources", "called"),
    [
        (["*"], False),
        (["*/*"], True),
        (["*/status"], True),
        (["widgets/*"], True),
        (["widgets"], False),
    ],
)
async def test_resource_wildcards_on_status(
    api: API, webhook: WebhookServer, resources: list[str], called: bool
) -> None:
    await api.create_widget("a")
    await install_for(api, webhook, rules=[{**WIDGET_RULE, "resources": resources}])
    await api.patch(f"{WIDGETS}/a/status", {"status": {"status": "Ready"}})
    assert bool(webhook.reviews) is called


async def test_denial_passes_status_code_through(api: API, webhook: WebhookServer) -> None:
    await api.create_widget("a")
    webhook.respond = lambda review: deny(review, "server a is locked", code=409)
    await install_for(api, webhook)

    status, body = await api.request("DELETE", f"{WIDGETS}/a")
    assert status == 409
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'admission webhook "{HOOK}" denied the request: server a is locked',
        "code": 409,
    }
    _, stored = await api.request("GET", f"{WIDGETS}/a")
    assert "deletionTimestamp" not in stored["metadata"]


async def test_denial_without_code_is_400(api: API, webhook: WebhookServer) -> None:
    webhook.respond = lambda review: deny(review, "no")
    await install_for(api, webhook)
    status, body = await api.request(
        "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    assert status == 400
    assert body["message"] == f'admission webhook "{HOOK}" denied the request: no'
    missing, _ = await api.request("GET", f"{WIDGETS}/a")
    assert missing == 404


async def test_denial_keeps_reason_and_details(api: API, webhook: WebhookServer) -> None:
    def respond(review: Review) -> Review:
        response = deny(review, "too big", code=422)
        response["response"]["status"]["reason"] = "Invalid"
        response["response"]["status"]["details"] = {"causes": [{"field": "spec.size"}]}
        return response

    webhook.respond = respond
    await install_for(api, webhook)
    status, body = await api.request(
        "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["details"] == {"causes": [{"field": "spec.size"}]}


async def test_warnings_reach_the_client(api: API, webhook: WebhookServer) -> None:
    webhook.respond = lambda review: allow(review, warnings=["size is odd"])
    await install_for(api, webhook)
    body = {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 3}}
    async with api.session.post(WIDGETS, json=body) as response:
        assert response.status == 201
        assert response.headers.getall("Warning") == ['299 - "size is odd"']


async def test_dead_webhook_fails_closed(api: API, webhook: WebhookServer) -> None:
    url = webhook.url()
    await webhook.stop()
    await install(api, url=url, ca_bundle=webhook.certificate.ca_bundle)

    status, body = await api.request(
        "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    assert status == 500
    assert body["reason"] == "InternalError"
    expected = (
        f'failed calling webhook "{HOOK}": failed to call webhook: Post "{url}?timeout=10s": '
        f"dial tcp 127.0.0.1:{webhook.port}: connect: connection refused"
    )
    assert body["message"] == f"Internal error occurred: {expected}"
    assert body["details"] == {"causes": [{"message": expected}]}


async def test_dead_webhook_ignored(api: API, webhook: WebhookServer) -> None:
    url = webhook.url()
    await webhook.stop()
    await install(api, url=url, ca_bundle=webhook.certificate.ca_bundle, failurePolicy="Ignore")
    created = await api.create_widget("a")
    assert created["metadata"]["name"] == "a"


async def test_slow_webhook_times_out(api: API, webhook: WebhookServer) -> None:
    release = asyncio.Event()

    async def respond(review: Review) -> Review:
        await release.wait()
        return allow(review)

    webhook.respond = respond
    await install_for(api, webhook, timeoutSeconds=1)
    try:
        status, body = await api.request(
            "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
        )
    finally:
        release.set()
    assert status == 500
    assert body["message"].endswith(f'Post "{webhook.url()}?timeout=1s": context deadline exceeded')


async def test_unknown_authority_fails(
    api: API, webhook: WebhookServer, tmp_path: pathlib.Path
) -> None:
    other = make_certificate(tmp_path, prefix="other")
    await install(api, url=webhook.url(), ca_bundle=other.ca_bundle)
    status, body = await api.request(
        "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    assert status == 500
    assert body["message"].endswith(
        "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    )
    assert webhook.reviews == []


async def test_certificate_without_the_ip_fails(api: API, tmp_path: pathlib.Path) -> None:
    certificate = make_certificate(tmp_path, names=("localhost",))
    async with WebhookServer(certificate) as webhook:
        await install(api, url=webhook.url(), ca_bundle=certificate.ca_bundle)
        status, body = await api.request(
            "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
        )
    assert status == 500
    assert "x509: certificate is not valid for 127.0.0.1" in body["message"]


async def test_dry_run_with_side_effects_is_rejected(api: API, webhook: WebhookServer) -> None:
    await api.create_widget("a")
    await install_for(api, webhook, sideEffects="NoneOnDryRun")
    status, _ = await api.request("DELETE", f"{WIDGETS}/a?dryRun=All")
    assert status == 200
    assert webhook.reviews[0]["request"]["dryRun"] is True
    assert webhook.reviews[0]["request"]["options"]["dryRun"] == ["All"]

    # v1 accepts only None and NoneOnDryRun; Some remains in configurations stored through
    # v1beta1 by older servers, so the test stores one directly.
    _store_side_effects(api, "Some")
    status, body = await api.request("DELETE", f"{WIDGETS}/a?dryRun=All")
    assert status == 400
    assert body["reason"] == "BadRequest"
    assert body["message"] == f'admission webhook "{HOOK}" does not support dry run'
    assert len(webhook.reviews) == 1


def _store_side_effects(api: API, value: str) -> None:
    cluster = api.server.cluster
    assert cluster is not None
    rtype = cluster.lookup("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
    bucket = cluster.registry.bucket(rtype)
    old = bucket.get("", HOOK)
    assert old is not None
    new = copy.deepcopy(old)
    new["webhooks"][0]["sideEffects"] = value
    cluster.store.commit(bucket, new, old)


async def test_dry_run_denial_changes_nothing(api: API, webhook: WebhookServer) -> None:
    await api.create_widget("a")
    webhook.respond = lambda review: deny(review, "locked", code=409)
    await install_for(api, webhook)
    status, body = await api.request("DELETE", f"{WIDGETS}/a?dryRun=All")
    assert status == 409
    assert body["message"].endswith("denied the request: locked")


async def test_object_selector(api: API, webhook: WebhookServer) -> None:
    await install_for(
        api,
        webhook,
        objectSelector={"matchExpressions": [{"key": "guarded", "operator": "Exists"}]},
    )
    await api.create_widget("plain")
    assert webhook.reviews == []
    await api.create_widget("guarded", labels={"guarded": "yes"})
    assert len(webhook.reviews) == 1

    # A label removed by the write still matches, through the old object.
    status, _ = await api.patch(f"{WIDGETS}/guarded", {"metadata": {"labels": None}})
    assert status == 200
    assert len(webhook.reviews) == 2


async def test_namespace_selector(api: API, webhook: WebhookServer) -> None:
    for name, labels in (("guarded", {"serverops.io/guard": "on"}), ("open", {})):
        body = {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        status, _ = await api.request("POST", "/api/v1/namespaces", body)
        assert status == 201
    await install_for(api, webhook, namespaceSelector={"matchLabels": {"serverops.io/guard": "on"}})
    body = {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    for namespace in ("open", "guarded"):
        path = f"/apis/golden.example.com/v1/namespaces/{namespace}/widgets"
        status, _ = await api.request("POST", path, body)
        assert status == 201
    assert [review["request"]["namespace"] for review in webhook.reviews] == ["guarded"]


async def test_scope_rules(api: API, webhook: WebhookServer) -> None:
    namespaced_only = {**WIDGET_RULE, "apiGroups": ["*"], "resources": ["*"], "scope": "Cluster"}
    await install_for(api, webhook, rules=[namespaced_only])
    await api.create_widget("a")
    assert webhook.reviews == []
    status, _ = await api.request("POST", "/api/v1/namespaces", {"metadata": {"name": "n"}})
    assert status == 201
    assert [review["request"]["kind"]["kind"] for review in webhook.reviews] == ["Namespace"]


async def test_service_endpoint_mapping(
    api: API, webhook: WebhookServer, tmp_path: pathlib.Path
) -> None:
    certificate = make_certificate(tmp_path, names=("hooks.serverops.svc",), prefix="svc")
    async with WebhookServer(certificate) as service_webhook:
        api.server.service_endpoints[("serverops", "hooks")] = f"127.0.0.1:{service_webhook.port}"
        service = {"namespace": "serverops", "name": "hooks", "path": "/validate-widgets"}
        await install(api, service=service, ca_bundle=certificate.ca_bundle)
        await api.create_widget("a")
        assert len(service_webhook.reviews) == 1

        del api.server.service_endpoints[("serverops", "hooks")]
        status, body = await api.request(
            "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "b"}, "spec": {"size": 1}}
        )
    assert status == 500
    assert (
        'Post "https://hooks.serverops.svc:443/validate-widgets?timeout=10s": '
        'service "hooks" not found'
    ) in body["message"]


async def test_only_loopback_urls_are_called(api: API) -> None:
    await install(api, url="https://192.0.2.1:9443/validate", ca_bundle="")
    status, body = await api.request(
        "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    assert status == 500
    assert "calls webhooks on loopback addresses only" in body["message"]


async def test_configuration_writes_skip_webhooks(api: API, webhook: WebhookServer) -> None:
    everything = {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}
    webhook.respond = lambda review: deny(review, "nothing passes")
    await install_for(api, webhook, rules=[everything])
    status, _ = await api.request("DELETE", f"{CONFIGURATIONS}/{HOOK}")
    assert status == 200
    assert webhook.reviews == []


async def test_configuration_defaults_and_validation(api: API) -> None:
    created = await install(api, url="https://127.0.0.1:1/validate")
    hook = created["webhooks"][0]
    assert hook["failurePolicy"] == "Fail"
    assert hook["matchPolicy"] == "Equivalent"
    assert hook["timeoutSeconds"] == 10
    assert hook["namespaceSelector"] == {}
    assert hook["objectSelector"] == {}
    assert hook["rules"][0]["scope"] == "*"

    bad = validating_webhook_configuration(
        "bad.example.com", url="http://127.0.0.1:1/", rules=[WIDGET_RULE], timeoutSeconds=31
    )
    del bad["webhooks"][0]["sideEffects"]
    status, body = await api.request("POST", CONFIGURATIONS, bad)
    assert status == 422
    fields = {cause["field"] for cause in body["details"]["causes"]}
    assert fields == {
        "webhooks[0].sideEffects",
        "webhooks[0].timeoutSeconds",
        "webhooks[0].clientConfig.url",
    }


async def test_changed_object_is_reviewed_again(api: API, webhook: WebhookServer) -> None:
    await api.create_widget("a")
    first = asyncio.Event()
    proceed = asyncio.Event()

    async def respond(review: Review) -> Review:
        if not first.is_set():
            first.set()
            await proceed.wait()
        return allow(review)

    webhook.respond = respond
    await install_for(api, webhook)
    patch = asyncio.create_task(api.patch(f"{WIDGETS}/a", {"spec": {"size": 5}}))
    await first.wait()

    # Another write lands while the webhook reviews the patch of the first version.
    status, _ = await api.patch(f"{WIDGETS}/a", {"spec": {"size": 7}})
    assert status == 200
    proceed.set()
    status, patched = await patch
    assert status == 200
    assert patched["spec"]["size"] == 5
    old_sizes = [review["request"]["oldObject"]["spec"]["size"] for review in webhook.reviews]
    assert old_sizes == [3, 3, 7]


MUTATING = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


def patch_response(review: Review, operations: list[dict[str, Any]]) -> Review:
    response = allow(review)
    encoded = base64.b64encode(json.dumps(operations).encode()).decode()
    response["response"].update(patch=encoded, patchType="JSONPatch")
    return response


async def install_mutating(
    api: API, name: str, webhook: WebhookServer, **fields: Any
) -> dict[str, Any]:
    fields.setdefault("rules", [WIDGET_RULE])
    body = validating_webhook_configuration(
        name, url=webhook.url(), ca_bundle=webhook.certificate.ca_bundle, **fields
    )
    body["kind"] = "MutatingWebhookConfiguration"
    status, created = await api.request("POST", MUTATING, body)
    assert status == 201, created
    return dict(created)


def add_label(key: str) -> Any:
    def respond(review: Review) -> Review:
        if review["request"]["operation"] == "DELETE":
            return allow(review)
        labels = review["request"]["object"]["metadata"].get("labels")
        if labels is None:
            operation = {"op": "add", "path": "/metadata/labels", "value": {key: "yes"}}
        else:
            operation = {"op": "add", "path": f"/metadata/labels/{key}", "value": "yes"}
        return patch_response(review, [operation])

    return respond


async def test_mutation_is_stored_and_validated(
    api: API, webhook: WebhookServer, certificate: Certificate
) -> None:
    webhook.respond = add_label("mutated")
    await install_mutating(api, "a.golden.example.com", webhook)
    async with WebhookServer(certificate) as validator:
        await install(api, url=validator.url(), ca_bundle=certificate.ca_bundle)
        created = await api.create_widget("a")
        assert created["metadata"]["labels"] == {"mutated": "yes"}
        # Mutating webhooks see the object before the server fills in its own fields.
        mutating_request = webhook.reviews[0]["request"]
        assert "uid" not in mutating_request["object"]["metadata"]
        assert validator.reviews[0]["request"]["object"]["metadata"]["labels"] == {"mutated": "yes"}

        status, patched = await api.patch(f"{WIDGETS}/a", {"metadata": {"labels": None}})
    assert status == 200
    assert patched["metadata"]["labels"] == {"mutated": "yes"}
    assert webhook.reviews[1]["request"]["operation"] == "UPDATE"


async def test_mutating_webhooks_run_in_name_order(
    api: API, webhook: WebhookServer, certificate: Certificate
) -> None:
    webhook.respond = add_label("first")
    async with WebhookServer(certificate, add_label("second")) as second:
        await install_mutating(api, "b.golden.example.com", second)
        await install_mutating(api, "a.golden.example.com", webhook)
        created = await api.create_widget("a")
    assert created["metadata"]["labels"] == {"first": "yes", "second": "yes"}
    assert second.reviews[0]["request"]["object"]["metadata"]["labels"] == {"first": "yes"}


async def test_reinvocation_if_needed(
    api: API, webhook: WebhookServer, certificate: Certificate
) -> None:
    webhook.respond = add_label("first")
    async with WebhookServer(certificate, add_label("second")) as second:
        await install_mutating(api, "a.golden.example.com", webhook, reinvocationPolicy="IfNeeded")
        await install_mutating(api, "b.golden.example.com", second)
        await api.create_widget("a")
    assert len(webhook.reviews) == 2
    assert webhook.reviews[1]["request"]["object"]["metadata"]["labels"] == {
        "first": "yes",
        "second": "yes",
    }


async def test_patch_on_delete_is_an_error(api: API, webhook: WebhookServer) -> None:
    await api.create_widget("a")
    operation = {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}
    webhook.respond = lambda review: patch_response(review, [operation])
    rule = {**WIDGET_RULE, "operations": ["DELETE"]}
    await install_mutating(api, "a.golden.example.com", webhook, rules=[rule])
    status, body = await api.request("DELETE", f"{WIDGETS}/a")
    assert status == 500
    assert body["message"] == (
        'Internal error occurred: admission webhook "a.golden.example.com" attempted to modify '
        "the object, which is not supported for this operation"
    )


async def test_mutating_denial(api: API, webhook: WebhookServer) -> None:
    webhook.respond = lambda review: deny(review, "not today", code=409)
    await install_mutating(api, "a.golden.example.com", webhook)
    status, body = await api.request(
        "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    assert status == 409
    assert (
        body["message"] == 'admission webhook "a.golden.example.com" denied the request: not today'
    )


async def test_validating_webhook_may_not_patch(api: API, webhook: WebhookServer) -> None:
    operation = {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}
    webhook.respond = lambda review: patch_response(review, [operation])
    await install_for(api, webhook)
    status, body = await api.request(
        "POST", WIDGETS, {"kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}}
    )
    assert status == 500
    assert body["message"].endswith("validating webhook may not return response.patch")


def _two_version_crd() -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.golden.example.com"},
        "spec": {
            "group": "golden.example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": schema},
                {"name": "v2", "served": True, "storage": False, "schema": schema},
            ],
        },
    }


@pytest.mark.parametrize("policy", ["Equivalent", "Exact"])
async def test_match_policy(
    api: API, webhook: WebhookServer, policy: str, tmp_path: pathlib.Path
) -> None:
    cluster = api.server.cluster
    assert cluster is not None
    crd = tmp_path / "gadgets.json"
    crd.write_text(json.dumps(_two_version_crd()))
    await cluster.apply_crd_files([crd])
    rule = {**WIDGET_RULE, "apiVersions": ["v1"], "resources": ["gadgets"]}
    await install_for(api, webhook, rules=[rule], matchPolicy=policy)

    body = {"apiVersion": "golden.example.com/v2", "kind": "Gadget", "metadata": {"name": "g"}}
    status, _ = await api.request(
        "POST", "/apis/golden.example.com/v2/namespaces/default/gadgets", body
    )
    assert status == 201
    if policy == "Exact":
        assert webhook.reviews == []
        return
    request = webhook.reviews[0]["request"]
    assert request["kind"] == {"group": "golden.example.com", "version": "v1", "kind": "Gadget"}
    assert request["requestKind"]["version"] == "v2"
    assert request["object"]["apiVersion"] == "golden.example.com/v1"
