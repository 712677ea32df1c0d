"""Render and lint the Helm chart with helm-sdkpy, and validate manifests offline.

This script runs in the Python 3.12 virtual environment that ``py312.py`` creates, since
helm-sdkpy (Helm 4 as a shared library) needs Python 3.12 or newer. The tests call it
as ``helmtool.py PLAN OUTPUT``: PLAN is a JSON file with the steps, OUTPUT receives the
results as JSON. It needs nothing from the serverops package.

helm-sdkpy 0.1.32 has no client-only render (``helm template``): it renders only while
installing. A render therefore installs the chart into ``RenderSink``, a stand-in API
server on 127.0.0.1. The sink serves discovery for the kinds the chart uses and accepts
every create without checking it, because the offline schema validation checks the
objects instead. Helm keeps the release in memory (``HELM_DRIVER=memory``), so no Secret
is written for it. A plan may also name a kubeconfig, to install into a real API server.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

# Helm reads HELM_DRIVER from the environment the process started with, not from later
# changes to os.environ, so set it for this process and start it again.
if os.environ.get("HELM_DRIVER") != "memory":
    os.environ["HELM_DRIVER"] = "memory"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import helm_sdkpy  # noqa: E402
import kubernetes_validate  # noqa: E402
import kubernetes_validate.utils  # noqa: E402

# (group, version, kind, plural, namespaced) of every kind the chart and the Kustomize
# base may create, including those of cert-manager and the Prometheus Operator.
SINK_KINDS = [
    ("", "v1", "Namespace", "namespaces", False),
    ("", "v1", "ServiceAccount", "serviceaccounts", True),
    ("", "v1", "Service", "services", True),
    ("", "v1", "Secret", "secrets", True),
    ("", "v1", "ConfigMap", "configmaps", True),
    ("apps", "v1", "Deployment", "deployments", True),
    ("batch", "v1", "Job", "jobs", True),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
    ),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    ("coordination.k8s.io", "v1", "Lease", "leases", True),
    ("cert-manager.io", "v1", "Issuer", "issuers", True),
    ("cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", False),
    ("cert-manager.io", "v1", "Certificate", "certificates", True),
    ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True),
]
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


class RenderSink(ThreadingHTTPServer):
    """A stand-in API server that stores what it is sent and checks nothing.

    ``seed`` objects are returned by GET, so a test can make ``lookup`` find them.
    """

    daemon_threads = True
    # client-go opens a connection per discovery request, about a dozen at once. With
    # the default backlog of 5 the kernel drops some, and the client retries after 1 s.
    request_queue_size = 64

    def __init__(self, seed: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.objects: dict[str, dict[str, Any]] = {}
        for obj in seed:
            self.objects[self.object_path(obj)] = obj

    @staticmethod
    def object_path(obj: dict[str, Any]) -> str:
        group, _, version = obj["apiVersion"].rpartition("/")
        for kind_group, _, kind, plural, namespaced in SINK_KINDS:
            if kind_group == group and kind == obj["kind"]:
                prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
                meta = obj["metadata"]
                if namespaced:
                    return f"{prefix}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"
                return f"{prefix}/{plural}/{meta['name']}"
        raise KeyError(f"the render sink does not serve {obj['apiVersion']} {obj['kind']}")

    def kubeconfig(self) -> dict[str, Any]:
        host, port = self.server_address[:2]
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sink", "cluster": {"server": f"http://{host}:{port}"}}],
            "users": [{"name": "sink", "user": {}}],
            "contexts": [{"name": "sink", "context": {"cluster": "sink", "user": "sink"}}],
            "current-context": "sink",
        }


class _SinkHandler(BaseHTTPRequestHandler):
    server: RenderSink

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        self._send(
            404,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "message": f"{self.path} not found",
                "code": 404,
            },
        )

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        discovery = _discovery_documents()
        if path in discovery:
            self._send(200, discovery[path])
        elif path in self.server.objects:
            self._send(200, self.server.objects[path])
        else:
            self._not_found()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        collection = self.path.split("?", 1)[0]
        if self.headers.get("Content-Type", "").startswith("application/json"):
            obj = json.loads(body)
        else:
            # client-go sends built-in kinds as protobuf. The render needs only a valid
            # response, so respond with the kind and the names read from the envelope.
            obj = _object_from_protobuf(collection, body)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("resourceVersion", "1")
        self.server.objects[f"{collection}/{meta.get('name', '')}"] = obj
        self._send(201, obj)

    def do_PATCH(self) -> None:
        # Helm patches the objects of an earlier install that it finds. The render needs
        # only the stored object back.
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        path = self.path.split("?", 1)[0]
        if path in self.server.objects:
            self._send(200, self.server.objects[path])
        else:
            self._not_found()

    do_PUT = do_PATCH


def _object_from_protobuf(collection: str, body: bytes) -> dict[str, Any]:
    """Return apiVersion, kind and metadata name and namespace of a protobuf object.

    The envelope is the magic b"k8s\\0" and a runtime.Unknown message whose field 2 is
    the object. An object's field 1 is its ObjectMeta, where field 1 is the name and
    field 3 the namespace.
    """
    if not body.startswith(b"k8s\x00"):
        raise ValueError(f"POST {collection}: neither JSON nor a Kubernetes protobuf body")
    raw = _protobuf_fields(body[4:]).get(2, b"")
    meta = _protobuf_fields(_protobuf_fields(raw).get(1, b""))
    plural = collection.rsplit("/", 1)[-1]
    for group, version, kind, kind_plural, _ in SINK_KINDS:
        prefix = f"/apis/{group}/{version}/" if group else f"/api/{version}/"
        if kind_plural == plural and collection.startswith(prefix):
            metadata = {"name": meta.get(1, b"").decode()}
            if 3 in meta:
                metadata["namespace"] = meta[3].decode()
            api_version = f"{group}/{version}" if group else version
            return {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    raise KeyError(f"the render sink does not serve {collection}")


def _protobuf_fields(data: bytes) -> dict[int, bytes]:
    """Return the length-delimited fields of a protobuf message by number (last wins)."""
    fields: dict[int, bytes] = {}
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, position = _varint(data, position)
        elif wire_type == 2:
            length, position = _varint(data, position)
            fields[number] = data[position : position + length]
            position += length
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
    return fields


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


@functools.cache
def _discovery_documents() -> dict[str, dict[str, Any]]:
    """Return the legacy discovery documents: /version, /api, /apis and one per version."""
    documents: dict[str, dict[str, Any]] = {
        "/version": {
            "major": "1",
            "minor": "32",
            "gitVersion": "v1.32.0",
            "platform": "linux/amd64",
        },
        "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    }
    groups: dict[str, list[str]] = {}
    for group, version, kind, plural, namespaced in SINK_KINDS:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        document = documents.setdefault(
            path,
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": [],
            },
        )
        document["resources"].append(
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": VERBS,
            }
        )
        if group and version not in groups.setdefault(group, []):
            groups[group].append(version)
    documents["/apis"] = {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": group,
                "versions": [
                    {"groupVersion": f"{group}/{version}", "version": version}
                    for version in versions
                ],
                "preferredVersion": {
                    "groupVersion": f"{group}/{versions[0]}",
                    "version": versions[0],
                },
            }
            for group, versions in groups.items()
        ],
    }
    return documents


def lint(chart: str) -> dict[str, Any]:
    """Run helm lint; return each message's severity and path.

    NOTE: helm-sdkpy 0.1.32 serializes each message's error as an empty object, so the
    text of a lint message is lost. The severity (1 info, 2 warning, 3 error) and the
    path remain.
    """
    config = helm_sdkpy.Configuration(namespace="default")
    result = asyncio.run(helm_sdkpy.Lint(config).run(chart))
    return {
        "messages": [
            {"severity": message["Severity"], "path": message["Path"]}
            for message in result.get("Messages") or []
        ],
        "errors": result.get("Errors"),
    }


def render(step: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Install the chart into the render sink, or into the API server of step['kubeconfig'].

    With ``uninstall_timeout`` in the step, uninstall the release afterwards too.
    """
    values: dict[str, Any] = {}
    for values_file in step.get("values_files", []):
        values = _merge(values, yaml.safe_load(Path(values_file).read_text()) or {})
    sink = None
    kubeconfig = step.get("kubeconfig")
    if kubeconfig is None:
        sink = RenderSink(step.get("seed", []))
        threading.Thread(target=sink.serve_forever, args=(0.05,), daemon=True).start()
        kubeconfig = str(workdir / f"sink-{step['release']}-{id(step)}.kubeconfig")
        Path(kubeconfig).write_text(json.dumps(sink.kubeconfig()))
    try:
        config = helm_sdkpy.Configuration(namespace=step["namespace"], kubeconfig=kubeconfig)
        try:
            release = asyncio.run(
                helm_sdkpy.Install(config).run(
                    step["release"], step["chart"], values=values, wait=False, timeout=60
                )
            )
        except helm_sdkpy.HelmError as error:
            return {"error": str(error)}
        uninstall = _uninstall(config, step, values) if "uninstall_timeout" in step else None
    finally:
        if sink is not None:
            sink.shutdown()
            sink.server_close()
    hooks = [
        {"path": hook.get("path"), "events": hook.get("events"), "manifest": hook.get("manifest")}
        for hook in release.get("hooks") or []
    ]
    manifest = release.get("manifest", "")
    documents = [
        doc
        for text in [manifest, *(hook["manifest"] or "" for hook in hooks)]
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return {
        "uninstall": uninstall,
        "manifest": manifest,
        "hooks": hooks,
        "notes": (release.get("info") or {}).get("notes", ""),
        "validation": {
            version: validate(documents, version) for version in step.get("kube_versions", [])
        },
    }


def _uninstall(
    config: helm_sdkpy.Configuration, step: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    """Uninstall the release just installed, then upgrade it with the same values.

    Return each action's error, if any, and the release status after it.

    NOTE: no rollback is tried, because helm-sdkpy 0.1.32's Rollback fails with "wait
    strategy not set" and leaves the release pending-rollback.
    """
    result: dict[str, Any] = {"error": None}
    try:
        asyncio.run(
            helm_sdkpy.Uninstall(config).run(
                step["release"], wait=False, timeout=step["uninstall_timeout"]
            )
        )
    except helm_sdkpy.HelmError as error:
        result["error"] = str(error)
    result["status"] = _status(config, step["release"])
    try:
        asyncio.run(
            helm_sdkpy.Upgrade(config).run(
                step["release"], step["chart"], values=values, wait=False, timeout=60
            )
        )
        result["upgrade_error"] = None
    except helm_sdkpy.HelmError as error:
        result["upgrade_error"] = str(error)
    result["status_after_upgrade"] = _status(config, step["release"])
    return result


def _status(config: helm_sdkpy.Configuration, release: str) -> str:
    try:
        status = asyncio.run(helm_sdkpy.Status(config).run(release))
    except helm_sdkpy.HelmError as error:
        return f"unknown: {error}"
    return str((status.get("info") or {}).get("status"))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate(documents: list[dict[str, Any]], kube_version: str) -> list[dict[str, Any]]:
    """Validate each object against the Kubernetes JSON schema of kube_version, strictly.

    Kinds without a bundled schema (cert-manager's, the Prometheus Operator's) come back
    as ``no-schema``, for the caller to decide.
    """
    results = []
    for obj in documents:
        entry = {
            "kind": obj.get("kind"),
            "apiVersion": obj.get("apiVersion"),
            "name": (obj.get("metadata") or {}).get("name"),
        }
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
            entry["result"] = "valid"
        except kubernetes_validate.SchemaNotFoundError:
            entry["result"] = "no-schema"
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(item) for item in error.path)
            entry["result"] = "invalid"
            entry["message"] = f"{path}: {error.message}"
        results.append(entry)
    return results


def main(plan_path: str, output_path: str) -> None:
    # The schema files are several megabytes each, and kubernetes-validate reads them on
    # every call, so cache them for the whole run.
    kubernetes_validate.utils.schema_contents = functools.cache(
        kubernetes_validate.utils.schema_contents
    )
    plan = json.loads(Path(plan_path).read_text())
    workdir = Path(output_path).parent
    output: dict[str, Any] = {"renders": {}, "validations": {}}
    if plan.get("lint"):
        output["lint"] = lint(plan["lint"])
    for label, step in plan.get("renders", {}).items():
        output["renders"][label] = render(step, workdir)
    for label, step in plan.get("validations", {}).items():
        documents = [doc for doc in yaml.safe_load_all(Path(step["file"]).read_text()) if doc]
        output["validations"][label] = {
            version: validate(documents, version) for version in step["kube_versions"]
        }
    Path(output_path).write_text(json.dumps(output, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: helmtool.py PLAN.json OUTPUT.json")
    main(sys.argv[1], sys.argv[2])
