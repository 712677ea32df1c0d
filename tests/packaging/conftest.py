"""Fixtures of the packaging tests: the chart rendered with each values file, the Kustomize
base rendered by kubectl, and both validated against the Kubernetes JSON schemas.

Rendering, linting and validation run once per session in one ``helmtool.py`` process
under Python 3.12 (see ``py312.py``); the tests only read its JSON output.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube import KUBECTL, ROOT, crd_paths, kubectl, threaded_apiserver  # noqa: F401
from tests.packaging import py312

CHART = ROOT / "charts" / "serverops"
MANIFESTS = ROOT / "manifests"
VALUES = Path(__file__).with_name("values")
RELEASE = "serverops"
NAMESPACE = "serverops-system"

# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the version of
# the kubectl used here.
KUBE_VERSIONS = ["1.28", "1.32"]

# The values files under values/, by label; "defaults" renders values.yaml alone.
VALUES_FILES = {"defaults": []} | {path.stem: [str(path)] for path in sorted(VALUES.glob("*.yaml"))}


def parse_manifest(text: str) -> list[dict[str, Any]]:
    """Return the objects of a multi-document YAML text, without empty documents."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """Return the only object of this kind (and name); fail the test if there is not one."""
    matches = [
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


@pytest.fixture(scope="session")
def py312_python() -> Path:
    try:
        return py312.ensure_venv()
    except py312.InterpreterNotFound as error:
        pytest.skip(str(error))


def run_helmtool(python: Path, plan: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run helmtool.py with this plan and return its output."""
    plan_path = workdir / "plan.json"
    output_path = workdir / "output.json"
    plan_path.write_text(json.dumps(plan))
    result = subprocess.run(
        [
            str(python),
            str(Path(__file__).with_name("helmtool.py")),
            str(plan_path),
            str(output_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"helmtool.py failed:\n{result.stderr}"
    output: dict[str, Any] = json.loads(output_path.read_text())
    return output


@pytest.fixture(scope="session")
def kustomized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Kustomize base as `kubectl kustomize manifests/` renders it, in a file."""
    result = subprocess.run(
        [KUBECTL, "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize manifests/ failed:\n{result.stderr}"
    path = tmp_path_factory.mktemp("kustomize") / "manifests.yaml"
    path.write_text(result.stdout)
    return path


@pytest.fixture(scope="session")
def helm_output(
    py312_python: Path, kustomized: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Lint, every render, and the schema validation of the renders and the Kustomize base."""
    workdir = tmp_path_factory.mktemp("helm")
    renders: dict[str, Any] = {
        label: {
            "chart": str(CHART),
            "release": RELEASE,
            "namespace": NAMESPACE,
            "values_files": files,
            "kube_versions": KUBE_VERSIONS,
        }
        for label, files in VALUES_FILES.items()
    }
    # An upgrade finds the webhook Secret of the first install; lookup must reuse it.
    renders["existing-secret"] = {
        "chart": str(CHART),
        "release": RELEASE,
        "namespace": NAMESPACE,
        "seed": [EXISTING_SECRET, EXISTING_APPROVAL_KEY],
    }
    # A reinstall after helm uninstall finds the CRDs that the keep policy left behind.
    # The same release takes them over; another release may not.
    for label, release in [("reinstall", RELEASE), ("reinstall-other-release", "other")]:
        renders[label] = {
            "chart": str(CHART),
            "release": release,
            "namespace": NAMESPACE,
            "seed": kept_crds(),
        }
    plan = {
        "lint": str(CHART),
        "renders": renders,
        "validations": {"kustomize": {"file": str(kustomized), "kube_versions": KUBE_VERSIONS}},
    }
    return run_helmtool(py312_python, plan, workdir)


def kept_crds() -> list[dict[str, Any]]:
    """Return the CRDs of crds/ as helm uninstall leaves them behind with the keep policy."""
    crds = []
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        crd["metadata"].setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
        crd["metadata"]["annotations"] = {
            "helm.sh/resource-policy": "keep",
            "meta.helm.sh/release-name": RELEASE,
            "meta.helm.sh/release-namespace": NAMESPACE,
        }
        crds.append(crd)
    return crds


EXISTING_SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "serverops-webhook-tls",
        "namespace": NAMESPACE,
        # The ownership labels and annotations of a Secret from an earlier install.
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {
            "meta.helm.sh/release-name": RELEASE,
            "meta.helm.sh/release-namespace": NAMESPACE,
        },
    },
    "type": "kubernetes.io/tls",
    "data": {"ca.crt": "Q0EtQlVORExF", "tls.crt": "Q0VSVA==", "tls.key": "S0VZ"},
}

EXISTING_APPROVAL_KEY = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {**EXISTING_SECRET["metadata"], "name": "serverops-approval-key"},
    "type": "Opaque",
    "data": {"key": "QVBQUk9WQUwtS0VZLTAxMjM0NTY3ODk="},
}


@pytest.fixture(scope="session")
def rendered(helm_output: dict[str, Any]) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """The objects of each successful render, hooks included, by values label."""
    yield {
        label: parse_manifest(render["manifest"])
        + [obj for hook in render["hooks"] for obj in parse_manifest(hook["manifest"])]
        for label, render in helm_output["renders"].items()
        if "manifest" in render
    }


@pytest.fixture(scope="session")
def kustomize_objects(kustomized: Path) -> list[dict[str, Any]]:
    return parse_manifest(kustomized.read_text())
