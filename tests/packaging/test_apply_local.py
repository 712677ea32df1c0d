"""Install the chart with Helm, and apply the Kustomize base with kubectl, into the local
API server, which checks each object as kube-apiserver would.

The server runs no controllers for these kinds: no pod starts and no webhook is called,
so this shows that the objects are accepted, not that the operator runs. Where the server
does not serve a kind yet, the test skips and names it.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from serverops.apiserver import ThreadedAPIServer
from tests.kube import Kubectl
from tests.packaging.conftest import CHART, NAMESPACE, RELEASE, parse_manifest, run_helmtool

# cert-manager's kinds need cert-manager's CRDs, which the local server does not have.
CERT_MANAGER = "cert-manager.io"


def missing_kinds(server: ThreadedAPIServer, objects: list[dict[str, Any]]) -> list[str]:
    """Return "apiVersion Kind" of each object kind that the server's discovery lacks."""
    missing = []
    for api_version, kind in sorted({(obj["apiVersion"], obj["kind"]) for obj in objects}):
        path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        try:
            with urllib.request.urlopen(server.url + path, timeout=10) as response:
                resources = json.load(response)["resources"]
        except urllib.error.HTTPError:
            resources = []
        if kind not in {resource["kind"] for resource in resources}:
            missing.append(f"{api_version} {kind}")
    return missing


def skip_unless_served(server: ThreadedAPIServer, objects: list[dict[str, Any]]) -> None:
    missing = missing_kinds(server, objects)
    if missing:
        pytest.skip("the local API server does not serve " + ", ".join(missing))


def get_each(kubectl: Kubectl, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        kind = (
            f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}"
            if "/" in obj["apiVersion"]
            else obj["kind"].lower()
        )
        namespace = obj["metadata"].get("namespace")
        args = ["get", kind, obj["metadata"]["name"], "-o", "name"]
        if namespace:
            args += ["-n", namespace]
        kubectl(*args)


def test_chart_installs_into_local_apiserver(
    threaded_apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    py312_python: Path,
    rendered: dict[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    objects = rendered["defaults"]
    skip_unless_served(threaded_apiserver, objects)
    kubectl("create", "namespace", NAMESPACE)
    plan = {
        "renders": {
            "local": {
                "chart": str(CHART),
                "release": RELEASE,
                "namespace": NAMESPACE,
                "kubeconfig": str(threaded_apiserver.kubeconfig_path),
            }
        }
    }
    render = run_helmtool(py312_python, plan, tmp_path)["renders"]["local"]
    assert "error" not in render, render.get("error")
    installed = parse_manifest(render["manifest"])
    assert sorted(obj["kind"] for obj in installed) == sorted(
        obj["kind"] for obj in objects if obj["kind"] != "Job"
    )
    get_each(kubectl, installed)


def test_base_applies_to_local_apiserver(
    threaded_apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    kustomize_objects: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    objects = [
        obj for obj in kustomize_objects if not obj["apiVersion"].startswith(CERT_MANAGER + "/")
    ]
    skip_unless_served(threaded_apiserver, objects)
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    kubectl("apply", "-f", str(path))
    get_each(kubectl, objects)
    for crd in [obj for obj in objects if obj["kind"] == "CustomResourceDefinition"]:
        kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=10s",
            f"customresourcedefinition/{crd['metadata']['name']}",
        )


def test_failed_uninstall_check_keeps_release(
    threaded_apiserver: ThreadedAPIServer,
    kubectl: Kubectl,
    py312_python: Path,
    rendered: dict[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """helm uninstall runs the pre-delete Job; when the Job fails, Helm deletes nothing.

    The local server runs no Job controller, so a thread plays the Job's part: it marks
    the Job Failed, as a `serverops check-uninstall` that found held objects would.
    """
    objects = rendered["defaults"]
    skip_unless_served(threaded_apiserver, objects)
    kubectl("create", "namespace", NAMESPACE)
    job = f"{RELEASE}-uninstall-check"
    stop = threading.Event()

    def fail_job() -> None:
        while not stop.is_set():
            found = kubectl("get", "job", job, "-n", NAMESPACE, "-o", "name", check=False)
            if found.returncode == 0:
                kubectl(
                    "patch",
                    "job",
                    job,
                    "-n",
                    NAMESPACE,
                    "--subresource=status",
                    "--type=merge",
                    "-p",
                    json.dumps(FAILED_JOB_STATUS),
                )
                return
            stop.wait(0.2)

    failer = threading.Thread(target=fail_job, daemon=True)
    failer.start()
    plan = {
        "renders": {
            "local": {
                "chart": str(CHART),
                "release": RELEASE,
                "namespace": NAMESPACE,
                "kubeconfig": str(threaded_apiserver.kubeconfig_path),
                "uninstall_timeout": 30,
            }
        }
    }
    try:
        render = run_helmtool(py312_python, plan, tmp_path)["renders"]["local"]
    finally:
        stop.set()
        failer.join(timeout=10)
    assert "error" not in render, render.get("error")
    uninstall = render["uninstall"]
    assert uninstall["error"] is not None
    assert f"Job/{NAMESPACE}/{job}" in uninstall["error"]
    # Helm 4 marks the release uninstalling before it runs the hook and leaves it so.
    # helm upgrade then rejects it; docs/install.md describes the way out.
    assert uninstall["status"] == "uninstalling"
    assert "has no deployed releases" in uninstall["upgrade_error"]
    # Nothing was deleted.
    get_each(kubectl, parse_manifest(render["manifest"]))


FAILED_JOB_STATUS = {
    "status": {
        "failed": 1,
        "conditions": [
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        ],
    }
}
