"""The Python clients and kopf against the local API server."""

from __future__ import annotations

import json
import pathlib
import textwrap
import threading
import time

import kopf.testing
import kubernetes
import kubernetes_asyncio
import pytest

from serverops.apiserver import LocalAPIServer, ThreadedAPIServer
from tests.kube import make_certificate

GROUP, VERSION, PLURAL = "golden.example.com", "v1", "widgets"


def widget(name: str, size: int = 3) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size},
    }


def test_kubernetes_client_crud_and_errors(threaded_apiserver: ThreadedAPIServer) -> None:
    api_client = kubernetes.config.new_client_from_config(str(threaded_apiserver.kubeconfig_path))
    with api_client:
        custom = kubernetes.client.CustomObjectsApi(api_client)
        created = custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("a")
        )
        assert created["spec"]["color"] == "red"
        patched = custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "a", {"spec": {"size": 5}}
        )
        assert patched["metadata"]["generation"] == 2
        with pytest.raises(kubernetes.client.ApiException) as raised:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, "default", PLURAL, widget("b", size=99)
            )
        assert raised.value.status == 422

        core = kubernetes.client.CoreV1Api(api_client)
        names = [ns.metadata.name for ns in core.list_namespace().items]
        assert "kube-system" in names
        namespace = core.create_namespace(
            kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name="typed"))
        )
        assert namespace.status.phase == "Active"
        core.patch_namespace("typed", {"metadata": {"labels": {"team": "a"}}})
        assert core.read_namespace("typed").metadata.labels["team"] == "a"


def test_kubernetes_watch_stream(threaded_apiserver: ThreadedAPIServer) -> None:
    api_client = kubernetes.config.new_client_from_config(str(threaded_apiserver.kubeconfig_path))
    with api_client:
        custom = kubernetes.client.CustomObjectsApi(api_client)
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("a"))
        stream = kubernetes.watch.Watch().stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            "default",
            PLURAL,
            timeout_seconds=5,
        )
        first = next(stream)
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "a")


async def test_kubernetes_asyncio_client(local_apiserver: LocalAPIServer) -> None:
    api_client = await kubernetes_asyncio.config.new_client_from_config(
        str(local_apiserver.kubeconfig_path)
    )
    async with api_client:
        custom = kubernetes_asyncio.client.CustomObjectsApi(api_client)
        await custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("a"))
        listed = await custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
        assert [item["metadata"]["name"] for item in listed["items"]] == ["a"]
        await custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a")
        listed = await custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
        assert listed["items"] == []


OPERATOR = textwrap.dedent(
    """
    import kopf

    @kopf.on.login()
    def login(**kwargs):
        # The kubernetes package reads KUBECONFIG once, at import; kopf's own loader reads it now.
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup()
    def configure(settings, **_):
        settings.persistence.finalizer = "golden.example.com/kopf"
        settings.posting.level = 0

    @kopf.on.create("golden.example.com", "v1", "widgets")
    def created(spec, patch, logger, **_):
        logger.info("Widget created.")
        patch.status["status"] = f"SIZE-{spec['size']}"

    @kopf.on.delete("golden.example.com", "v1", "widgets")
    def deleted(**_):
        pass
    """
)


def test_kopf_operator_handles_and_finalizes(
    threaded_apiserver: ThreadedAPIServer, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(threaded_apiserver.kubeconfig_path))
    script = tmp_path / "operator.py"
    script.write_text(OPERATOR)
    api_client = kubernetes.config.new_client_from_config(str(threaded_apiserver.kubeconfig_path))
    custom = kubernetes.client.CustomObjectsApi(api_client)
    args = ["run", "--standalone", "--all-namespaces", "--verbose", str(script)]
    with kopf.testing.KopfRunner(args, timeout=60) as runner, api_client:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("a", size=4)
        )
        current = _wait(
            lambda: custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a"),
            lambda obj: obj.get("status", {}).get("status") == "SIZE-4",
        )
        assert "golden.example.com/kopf" in current["metadata"]["finalizers"]
        custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a")
        _wait(
            lambda: custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)[
                "items"
            ],
            lambda items: items == [],
        )
        writes = threaded_apiserver.stats.count(user_agent_prefix="kopf/", verb="patch")
    assert runner.exit_code == 0, runner.output
    assert runner.exception is None
    assert writes >= 2
    assert "Widget created." in runner.output


def _wait(read, ready, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ready(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last value: {value!r}")
        time.sleep(0.05)


__all__ = ["threading"]


VALIDATING_OPERATOR = textwrap.dedent(
    """
    import kopf

    @kopf.on.login()
    def login(**kwargs):
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup()
    def configure(settings, **_):
        settings.posting.level = 100
        settings.admission.server = kopf.WebhookServer(
            addr="127.0.0.1", port=None, certfile=CERTFILE, pkeyfile=KEYFILE, cafile=CERTFILE
        )
        settings.admission.managed = "widgets.golden.example.com"

    @kopf.on.validate("golden.example.com", "v1", "widgets", operations={"DELETE"})
    def keep_locked(old, userinfo, **_):
        if old["metadata"].get("labels", {}).get("locked") == "true":
            message = f"widget is locked; {userinfo['username']} cannot delete it"
            raise kopf.AdmissionError(message, code=409)
    """
)


def test_kopf_validating_webhook_denies_delete(
    threaded_apiserver: ThreadedAPIServer, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(threaded_apiserver.kubeconfig_path))
    certificate = make_certificate(tmp_path)
    script = tmp_path / "operator.py"
    script.write_text(
        f"CERTFILE = {str(certificate.cert_path)!r}\nKEYFILE = {str(certificate.key_path)!r}\n"
        + VALIDATING_OPERATOR
    )
    api_client = kubernetes.config.new_client_from_config(str(threaded_apiserver.kubeconfig_path))
    custom = kubernetes.client.CustomObjectsApi(api_client)
    admission = kubernetes.client.AdmissionregistrationV1Api(api_client)
    locked = {**widget("locked"), "metadata": {"name": "locked", "labels": {"locked": "true"}}}
    args = ["run", "--standalone", "--all-namespaces", str(script)]
    with kopf.testing.KopfRunner(args, timeout=60) as runner, api_client:
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, locked)
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("free"))
        # kopf creates the configuration once its webhook server listens.
        configuration = _wait(
            lambda: admission.list_validating_webhook_configuration().items,
            lambda items: any(item.webhooks for item in items),
        )[0]
        with pytest.raises(kubernetes.client.ApiException) as raised:
            custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "locked")
        custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "free")
    assert runner.exception is None, runner.output
    assert raised.value.status == 409
    message = json.loads(raised.value.body)["message"]
    webhook_name = configuration.webhooks[0].name
    assert message == (
        f'admission webhook "{webhook_name}" denied the request: widget is locked; '
        "system:admin cannot delete it"
    )
    assert configuration.webhooks[0].client_config.url.startswith("https://127.0.0.1:")
