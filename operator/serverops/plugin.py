"""``kubectl server``: lock, unlock, restore, force-delete and inspect servers by name.

kubectl runs any ``kubectl-<name>`` program on the PATH as ``kubectl <name>``; this is
``kubectl-server``. It calls kubectl itself with the same connection flags, so the
user's kubeconfig, context and impersonation apply, and the API server's answers (a 409
for a locked server, say) reach the user unchanged. Its value is in finding things by
the server's name: ``kubectl server restore web-1`` finds the DeletedServer of ``web-1``,
whose own name carries part of a uid.
"""

import functools
import json
import subprocess
from collections.abc import Callable
from typing import Any

import click

from serverops import constants

# The option names of main(), and the kubectl flags they pass on.
_CONNECTION_FLAGS = {
    "kubeconfig": "--kubeconfig",
    "kube_context": "--context",
    "as_user": "--as",
    "as_group": "--as-group",
}


class KubectlFailed(click.ClickException):
    """kubectl failed; its own message is shown as it is, without another "Error:"."""

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


class Kubectl:
    """kubectl with the caller's connection flags and namespace."""

    def __init__(self, *, namespace: str | None, flags: list[str]) -> None:
        self.namespace = namespace
        self.flags = flags

    def run(self, *args: str) -> str:
        command = ["kubectl", *self.flags, *args]
        if self.namespace:
            command += ["--namespace", self.namespace]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KubectlFailed(result.stderr.strip() or f"{' '.join(command)} failed.")
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json"))


@click.group()
@click.option("-n", "--namespace", default=None, help="The namespace of the server.")
@click.option("--kubeconfig", default=None, help="The kubeconfig to use.")
@click.option("--context", "kube_context", default=None, help="The kubeconfig context.")
@click.option("--as", "as_user", default=None, help="The user to impersonate.")
@click.option("--as-group", "as_group", multiple=True, help="A group to impersonate.")
@click.pass_context
def main(ctx: click.Context, /, **defaults: Any) -> None:
    """Manage serverops Servers: lock, unlock, restore, force-delete, status.

    The connection flags may come before or after the command.
    """
    ctx.obj = defaults


def _connection(command: Callable[..., None]) -> Callable[..., None]:
    """Accept kubectl's namespace and connection flags after the command, as kubectl does."""

    @click.option("-n", "--namespace", default=None, help="The namespace of the server.")
    @click.option("--kubeconfig", default=None, help="The kubeconfig to use.")
    @click.option("--context", "kube_context", default=None, help="The kubeconfig context.")
    @click.option("--as", "as_user", default=None, help="The user to impersonate.")
    @click.option("--as-group", "as_group", multiple=True, help="A group to impersonate.")
    @functools.wraps(command)
    def wrapper(namespace: str | None, **options: Any) -> None:
        defaults: dict[str, Any] = click.get_current_context().find_root().obj or {}
        flags: list[str] = []
        for option, flag in _CONNECTION_FLAGS.items():
            values = options.pop(option) or defaults.get(option)
            for value in values if isinstance(values, tuple) else [values]:
                if value:
                    flags.append(f"{flag}={value}")
        namespace = namespace or defaults.get("namespace")
        command(Kubectl(namespace=namespace, flags=flags), **options)

    return wrapper


@main.command()
@click.argument("name")
@click.option("--reason", default="", help="Why the server is locked; shown when a delete is held.")
@_connection
def lock(kubectl: Kubectl, name: str, reason: str) -> None:
    """Lock a server: deleting it is refused (409) for non-administrators, and held."""
    spec: dict[str, Any] = {"locked": True}
    if reason:
        spec["lockedReason"] = reason
    kubectl.run("patch", "server", name, "--type=merge", "-p", json.dumps({"spec": spec}))
    click.echo(f"Server {name} is locked.")


@main.command()
@click.argument("name")
@_connection
def unlock(kubectl: Kubectl, name: str) -> None:
    """Unlock a server; a deletion that the lock held then finishes."""
    kubectl.run("patch", "server", name, "--type=merge", "-p", '{"spec":{"locked":false}}')
    click.echo(f"Server {name} is unlocked.")


@main.command()
@click.argument("name")
@_connection
def restore(kubectl: Kubectl, name: str) -> None:
    """Restore the soft-deleted server NAME, with its spec and ports."""
    record = _deleted_server(kubectl, name)
    if kubectl.run("get", "servers", "-o", "name", "--field-selector", f"metadata.name={name}"):
        raise click.ClickException(
            f"A Server named {name} exists, so the soft-deleted one cannot come back under its "
            f"name; delete or rename that Server first."
        )
    kubectl.run(
        "annotate",
        "deletedserver",
        record["metadata"]["name"],
        f"{constants.ANNOTATION_RESTORE}=true",
        "--overwrite",
    )
    click.echo(f"Restoring server {name} from DeletedServer {record['metadata']['name']}.")


@main.command(name="force-delete")
@click.argument("name")
@_connection
def force_delete(kubectl: Kubectl, name: str) -> None:
    """Purge the soft-deleted server NAME now, as Nova's forceDelete does."""
    record = _deleted_server(kubectl, name)
    kubectl.run("delete", "deletedserver", record["metadata"]["name"], "--wait=false")
    click.echo(f"Purging server {name} (DeletedServer {record['metadata']['name']}).")


@main.command()
@click.argument("name")
@_connection
def status(kubectl: Kubectl, name: str) -> None:
    """Show a server's state, lock, ports and conditions, or its soft-deleted record."""
    try:
        server = kubectl.json("get", "server", name)
    except click.ClickException:
        record = _deleted_server(
            kubectl, name, missing=f"No Server or soft-deleted server named {name}"
        )
        click.echo(
            f"Server {name} is SOFT_DELETED as DeletedServer {record['metadata']['name']}: "
            f"deleted at {record['spec']['deletedAt']}, reclaimed at {record['spec']['reclaimAt']}"
            f" unless restored (kubectl server restore {name})."
        )
        return

    spec, state = server.get("spec", {}), server.get("status", {})
    lock_text = "yes" + (f" ({spec['lockedReason']})" if spec.get("lockedReason") else "")
    click.echo(f"Server:  {name}")
    click.echo(f"Status:  {state.get('status', '-')}  Task: {state.get('taskState') or '-'}")
    click.echo(f"Locked:  {lock_text if spec.get('locked') else 'no'}")
    for port in state.get("ports", []):
        click.echo(f"Port:    {port['name']}  {port['origin']}  {port.get('macAddress', '')}")
    for condition in state.get("conditions", []):
        click.echo(
            f"{condition['type']}={condition['status']}  {condition.get('reason', '')}: "
            f"{condition.get('message', '')}"
        )


def _deleted_server(kubectl: Kubectl, name: str, *, missing: str = "") -> dict[str, Any]:
    listed = kubectl.json("get", "deletedservers")
    records = [item for item in listed.get("items", []) if item["spec"]["originalName"] == name]
    if not records:
        where = f"namespace {kubectl.namespace}" if kubectl.namespace else "this namespace"
        raise click.ClickException(
            f"{missing or f'No soft-deleted server named {name}'} in {where}."
        )

    # The newest record, if the same name was soft-deleted more than once.
    records.sort(key=lambda item: str(item["spec"]["deletedAt"]))
    newest: dict[str, Any] = records[-1]
    return newest
