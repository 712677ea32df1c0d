"""Running the operator: metrics, the uninstall check, and the CLI's errors."""

import pathlib
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import (
    KUBECTL,
    SERVEROPS,
    Kubectl,
    OperatorProcess,
    free_port,
    running_operator,
    wait_for,
)
from tests.e2e.manifests import port_manifest
from tests.e2e.objects import Objects, make_web


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def operator(
    kubeconfig: pathlib.Path, workdir: pathlib.Path, metrics_port: int
) -> Iterator[OperatorProcess]:
    with running_operator(
        kubeconfig=kubeconfig,
        log_path=workdir / "operator.log",
        extra_args=(f"--metrics-port={metrics_port}",),
    ) as process:
        yield process


@pytest.fixture
def objects(api: Any, namespace: str) -> Objects:
    return Objects(api=api, namespace=namespace)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text: str = answer.read().decode()
    return text


def sample(text: str, name: str) -> float:
    """Return the value of the sample ``name`` (with its labels) in a scrape, 0 if absent."""
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == name:
            return float(value)
    return 0.0


def scrape_when(port: int, name: str, value: float) -> str:
    """Scrape until the sample ``name`` has ``value``, and return that scrape."""

    def reached() -> str | None:
        text = scrape(port)
        return text if sample(text, name) == value else None

    return wait_for(reached, message=f"{name} to be {value}")


def test_metrics_count_servers_and_deletions(
    operator: OperatorProcess,
    metrics_port: int,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    port = metrics_port
    make_web(objects)
    make_web(objects, name="db-1", locked=True)

    text = scrape_when(port, 'serverops_servers{status="ACTIVE"}', 2.0)
    assert "# TYPE serverops_api_errors_total counter" in text

    kubectl.run("delete", "server", "web-1", "-n", namespace)
    kubectl.run("delete", "server", "db-1", "-n", namespace, "--wait=false")
    objects.wait_condition("db-1", "DeletionBlocked", status="True")

    text = scrape_when(port, 'serverops_blocked_deletions{reason="Locked"}', 1.0)
    assert sample(text, 'serverops_deletions_total{outcome="hard_deleted"}') == 1.0
    assert sample(text, 'serverops_deletions_total{outcome="held"}') == 1.0
    assert sample(text, 'serverops_deletion_duration_seconds_count{flow="hard"}') == 1.0


def test_check_uninstall_names_held_objects(
    operator: OperatorProcess, kubeconfig: Any, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    make_web(objects, locked=True)
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")
    objects.wait_condition("web-1", "DeletionBlocked", status="True")

    held = subprocess.run(
        [SERVEROPS, "check-uninstall"],
        capture_output=True,
        text=True,
        env={"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin"},
        timeout=30,
    )

    assert held.returncode == 1
    assert f"Server {namespace}/web-1" in held.stderr
    assert "compute.serverops.io/cleanup" in held.stderr

    objects.patch_server("web-1", {"spec": {"locked": False}})
    objects.wait_gone("servers", "web-1")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["run", "-A", "--reclaim-interval", "soon"], "Invalid reclaim interval 'soon'"),
        (["run", "-A", "--retry-delay", "-1"], "Invalid --retry-delay -1:"),
        (["run", "-A", "--retry-delay", "nan"], "finite"),
        (["run", "-A", "--webhook-port", "70000"], "--webhook-port 70000"),
        (["run"], "--all-namespaces"),
        (["run", "-A", "-n", "team-a"], "not both"),
        (
            ["run", "-A", "--webhook-port", "9443", "--webhook-cert-file", "x.pem"],
            "--webhook-key-file",
        ),
    ],
)
def test_cli_rejects_bad_settings(args: list[str], text: str) -> None:
    result = subprocess.run([SERVEROPS, *args], capture_output=True, text=True, timeout=30)

    assert result.returncode == 2
    assert text in result.stderr


def test_kubectl_server_plugin(
    operator: OperatorProcess, kubeconfig: Any, kubectl: Kubectl, objects: Objects, namespace: str
) -> None:
    make_web(objects, annotations={"compute.serverops.io/reclaim-interval": "1h"})
    bin_dir = pathlib.Path(SERVEROPS).parent
    env = {"KUBECONFIG": str(kubeconfig), "PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": "/tmp"}

    def plugin(*args: str) -> str:
        result = subprocess.run(
            [KUBECTL, "server", *args, "-n", namespace],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    plugin("lock", "web-1", "--reason", "month end")
    assert "Locked:  yes (month end)" in plugin("status", "web-1")
    plugin("unlock", "web-1")
    assert "Locked:  no" in plugin("status", "web-1")

    kubectl.run("delete", "server", "web-1", "-n", namespace)
    assert "is SOFT_DELETED as DeletedServer web-1-" in plugin("status", "web-1")
    plugin("restore", "web-1")
    objects.wait_status("web-1", "ACTIVE")

    kubectl.run("delete", "server", "web-1", "-n", namespace)
    record = objects.wait_deleted_server()
    plugin("force-delete", "web-1")
    objects.wait_gone("deletedservers", record["metadata"]["name"])


def test_port_takes_a_changed_mac_while_unbound(
    operator: OperatorProcess, objects: Objects
) -> None:
    objects.create(port_manifest("p1", mac="fa:16:3e:00:00:11"))
    wait_for(
        lambda: (
            (objects.port("p1") or {}).get("status", {}).get("macAddress") == "fa:16:3e:00:00:11"
        ),
        message="the first address",
    )

    objects.api.patch_namespaced_custom_object(
        "compute.serverops.io",
        "v1alpha1",
        objects.namespace,
        "ports",
        "p1",
        {"spec": {"macAddress": "FA:16:3E:00:00:22"}},
    )

    wait_for(
        lambda: (
            (objects.port("p1") or {}).get("status", {}).get("macAddress") == "fa:16:3e:00:00:22"
        ),
        message="the changed address",
    )


def test_port_with_multicast_mac_is_error(operator: OperatorProcess, objects: Objects) -> None:
    objects.create(port_manifest("p1", mac="01:00:5e:00:00:01"))

    port = wait_for(
        lambda: (
            p
            if (p := objects.port("p1")) and p.get("status", {}).get("status") == "ERROR"
            else None
        ),
        message="the port in ERROR",
    )

    message = port["status"]["conditions"][0]["message"]
    assert "01:00:5e:00:00:01" in message
    assert "unicast" in message


def test_kubectl_server_plugin_errors(
    operator: OperatorProcess, kubeconfig: Any, objects: Objects, namespace: str
) -> None:
    bin_dir = pathlib.Path(SERVEROPS).parent
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": "/tmp"}

    # Flags before the command, as kubectl users type them, and a name that is nowhere.
    result = subprocess.run(
        [KUBECTL, "server", f"--kubeconfig={kubeconfig}", "-n", namespace, "status", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )

    assert result.returncode == 1
    assert f"No Server or soft-deleted server named nope in namespace {namespace}" in result.stderr
