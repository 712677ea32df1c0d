"""The ``serverops`` command: run the operator, the local API server, or both.

- ``serverops run`` runs the operator against the current kubeconfig (any cluster).
- ``serverops apiserver`` runs only the local in-memory API server with the CRDs.
- ``serverops dev`` runs both in one process, for trying the operator with kubectl.
"""

import asyncio
import logging
import os
import pathlib
import secrets
import socket
import sys
from collections.abc import Callable
from typing import Any

import click
import kopf
from kubernetes_asyncio.client.exceptions import ApiException

from serverops import (
    constants,
    definitions,
    intervals,
    kubeapi,
    leadership,
    operating,
    uninstalling,
)
from serverops.config import ConfigurationError, OperatorConfig

_MAX_LISTED = 50

_LOG_FORMATS = {
    "plain": kopf.LogFormat.PLAIN,
    "full": kopf.LogFormat.FULL,
    "json": kopf.LogFormat.JSON,
}


# The flags shared by run and dev: the operator's settings and logging.
_OPERATOR_OPTIONS = [
    click.option(
        "--local-boot-seconds",
        type=float,
        default=0.0,
        show_default=True,
        envvar="SERVEROPS_LOCAL_BOOT_SECONDS",
        help="Seconds the local compute driver takes to boot a server (BUILD until then).",
    ),
    click.option(
        "--reclaim-interval",
        default="0",
        show_default=True,
        envvar="SERVEROPS_RECLAIM_INTERVAL",
        help=(
            "How long a deleted server stays restorable when it has no "
            "compute.serverops.io/reclaim-interval annotation: whole seconds (3600) or a "
            "duration (90s, 15m, 1h30m, 2d); 0 deletes at once."
        ),
    ),
    click.option(
        "--retry-delay",
        type=float,
        default=2.0,
        show_default=True,
        envvar="SERVEROPS_RETRY_DELAY",
        help="Seconds before retrying a step that failed on a transient API error.",
    ),
    click.option(
        "--admin-group",
        "admin_groups",
        multiple=True,
        envvar="SERVEROPS_ADMIN_GROUPS",
        help=(
            "A group whose members may delete, restore or force-delete a locked server; "
            "repeat for more (the variable takes a comma-separated list). system:masters "
            "is always one."
        ),
    ),
    click.option(
        "--approval-key-file",
        type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
        envvar="SERVEROPS_APPROVAL_KEY_FILE",
        help=(
            "A file with the secret that signs administrators' deletion approvals; all "
            "replicas need the same one. Without it, each process makes its own."
        ),
    ),
    click.option(
        "--webhook-port",
        type=int,
        default=0,
        show_default=True,
        envvar="SERVEROPS_WEBHOOK_PORT",
        help="Serve the admission webhooks over HTTPS on this port; 0 serves none.",
    ),
    click.option(
        "--webhook-address",
        default="127.0.0.1",
        show_default=True,
        envvar="SERVEROPS_WEBHOOK_ADDRESS",
        help="The address the webhook server listens on (0.0.0.0 in a pod).",
    ),
    click.option(
        "--webhook-host",
        default="",
        envvar="SERVEROPS_WEBHOOK_HOST",
        help="The name the API server calls the webhooks at; defaults to the address.",
    ),
    click.option(
        "--webhook-cert-file",
        default="",
        envvar="SERVEROPS_WEBHOOK_CERT_FILE",
        help="The webhook's TLS certificate (PEM); without it a self-signed one is made.",
    ),
    click.option(
        "--webhook-key-file",
        default="",
        envvar="SERVEROPS_WEBHOOK_KEY_FILE",
        help="The private key of the webhook's certificate (PEM).",
    ),
    click.option(
        "--webhook-configure",
        is_flag=True,
        envvar="SERVEROPS_WEBHOOK_CONFIGURE",
        help=(
            "Install the webhook configurations pointing at this process, with its CA "
            "bundle. For local runs; in a cluster the chart installs them."
        ),
    ),
    click.option(
        "--metrics-port",
        type=int,
        default=0,
        show_default=True,
        envvar="SERVEROPS_METRICS_PORT",
        help="Serve Prometheus metrics at /metrics on this port; 0 serves none.",
    ),
    click.option(
        "--metrics-address",
        default="127.0.0.1",
        show_default=True,
        envvar="SERVEROPS_METRICS_ADDRESS",
        help="The address the metrics endpoint listens on (0.0.0.0 in a pod).",
    ),
    click.option("-v", "--verbose", is_flag=True, help="Log at INFO level and above."),
    click.option("-d", "--debug", is_flag=True, help="Log at DEBUG level and above."),
    click.option("-q", "--quiet", is_flag=True, help="Log only warnings and errors."),
    click.option(
        "--log-format",
        type=click.Choice(sorted(_LOG_FORMATS)),
        default="full",
        show_default=True,
        envvar="SERVEROPS_LOG_FORMAT",
        help="Log line format; json gives one object per line with the object reference.",
    ),
]


def _operator_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the flags shared by ``run`` and ``dev``: the operator's settings and logging."""
    for option in reversed(_OPERATOR_OPTIONS):
        command = option(command)
    return command


@click.group()
@click.version_option(package_name="serverops")
def main() -> None:
    """Servers with the deletion contract of OpenStack Nova, on Kubernetes."""


@main.command()
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Serve only this namespace (a name or a glob); repeat for more.",
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Serve every namespace.")
@click.option(
    "--standalone",
    is_flag=True,
    envvar="SERVEROPS_STANDALONE",
    help="Do not coordinate with other replicas through kopf's peering objects.",
)
@click.option("--peering", "peering_name", default=None, help="The kopf peering object to use.")
@click.option("--priority", type=int, default=0, show_default=True, help="The peering priority.")
@click.option(
    "--liveness",
    "liveness_endpoint",
    default=None,
    envvar="SERVEROPS_LIVENESS",
    help="Serve liveness at this URL (such as http://0.0.0.0:8081/healthz) and readiness at "
    "/readyz on the same port.",
)
@click.option(
    "--leader-election-lease",
    default="",
    envvar="SERVEROPS_LEADER_ELECTION_LEASE",
    help="Lead through this coordination.k8s.io Lease, so that one replica of several acts; "
    "empty runs without election.",
)
@click.option(
    "--leader-election-namespace",
    default="default",
    show_default=True,
    envvar="SERVEROPS_LEADER_ELECTION_NAMESPACE",
    help="The namespace of the leader election Lease.",
)
@click.option(
    "--leader-election-duration",
    type=float,
    default=15.0,
    show_default=True,
    envvar="SERVEROPS_LEADER_ELECTION_DURATION",
    help="Seconds a Lease stays valid without renewal; the leader renews at a third of it.",
)
@_operator_options
def run(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    standalone: bool,
    peering_name: str | None,
    priority: int,
    liveness_endpoint: str | None,
    leader_election_lease: str,
    leader_election_namespace: str,
    leader_election_duration: float,
    **options: Any,
) -> None:
    """Run the operator against the cluster of the current kubeconfig."""
    if namespaces and all_namespaces:
        raise click.UsageError("Pass either --all-namespaces (-A) or --namespace (-n), not both.")
    if not namespaces and not all_namespaces:
        raise click.UsageError(
            "Pass --all-namespaces (-A) to serve every namespace, or --namespace (-n) for each "
            "namespace (or glob) to serve."
        )
    if leader_election_duration < 1:
        raise click.BadParameter(
            f"{leader_election_duration:g} is below 1 second.",
            param_hint="--leader-election-duration",
        )
    config = _configure(options)
    _check_credentials()
    lease = None
    if leader_election_lease:
        lease = leadership.LeaseSettings(
            name=leader_election_lease,
            namespace=leader_election_namespace,
            duration=leader_election_duration,
            renew_every=leader_election_duration / 3,
            renew_deadline=leader_election_duration * 2 / 3,
            retry_every=min(2.0, leader_election_duration / 3),
        )
    asyncio.run(
        operating.run_operator(
            config=config,
            clusterwide=all_namespaces,
            namespaces=namespaces,
            standalone=standalone,
            peering_name=peering_name,
            priority=priority,
            liveness_endpoint=liveness_endpoint,
            lease=lease,
        )
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", type=int, default=0, show_default=True, help="The port; 0 picks a free one."
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    required=True,
    help="Where to write a kubeconfig that points at the server.",
)
@click.option(
    "--token-auth-file",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    default=None,
    help='Authenticate bearer tokens from this CSV file (token,user,uid,"group1,group2"), '
    "as kube-apiserver does; the server then serves HTTPS. Without it, everyone is an admin.",
)
@click.option(
    "--authorization-mode",
    type=click.Choice(["AlwaysAllow", "RBAC"]),
    default="AlwaysAllow",
    show_default=True,
    help="RBAC evaluates Roles, ClusterRoles and their bindings for every request.",
)
def apiserver(
    host: str,
    port: int,
    kubeconfig: pathlib.Path,
    token_auth_file: pathlib.Path | None,
    authorization_mode: str,
) -> None:
    """Run only the local in-memory Kubernetes API server, with the CRDs installed."""
    asyncio.run(
        _serve_apiserver(
            host=host,
            port=port,
            kubeconfig=kubeconfig,
            token_file=token_auth_file,
            authorization=authorization_mode,
        )
    )


@main.command()
@click.option("--port", type=int, default=0, show_default=True, help="The API server's port.")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=pathlib.Path(".dev/kubeconfig"),
    show_default=True,
    help="Where to write the kubeconfig for kubectl.",
)
@click.argument("operator_args", nargs=-1, type=click.UNPROCESSED)
def dev(port: int, kubeconfig: pathlib.Path, operator_args: tuple[str, ...]) -> None:
    """Run the local API server, and the operator against it.

    The operator runs as a child process, exactly as `serverops run --all-namespaces`
    would; OPERATOR_ARGS (after --) are passed on to it, for example
    `serverops dev -- --local-boot-seconds 3 --verbose`.
    """
    asyncio.run(_serve_dev(port=port, kubeconfig=kubeconfig, operator_args=operator_args))


@main.command(name="check-uninstall")
def check_uninstall() -> None:
    """Fail if any Server or DeletedServer still waits on the operator's finalizer.

    Meant for a pre-delete hook: uninstalling the operator while objects wait on its
    finalizer would leave them Terminating for good.
    """
    try:
        held = asyncio.run(uninstalling.held_objects())
    except kubeapi.CredentialsError as error:
        click.echo(str(error), err=True)
        raise SystemExit(2) from error
    except (ApiException, OSError) as error:
        click.echo(f"Failed to list the objects that wait on the finalizer: {error}", err=True)
        raise SystemExit(2) from error
    if not held:
        click.echo("No object waits on the serverops finalizer; uninstalling is safe.")
        return

    # Kubernetes keeps only the tail of a failed Job's log as its message, so be brief.
    shown = held[:_MAX_LISTED]
    listing = "\n".join(f"  {entry}" for entry in shown)
    if len(held) > len(shown):
        listing += f"\n  ... and {len(held) - len(shown)} more"
    raise click.ClickException(
        f"{len(held)} objects still wait on the serverops finalizer "
        f"({constants.FINALIZER}):\n{listing}\n"
        f"Delete them and let the operator finish (or wait for the deletions under way), "
        f"then uninstall; removing the operator first leaves them Terminating."
    )


def _check_credentials() -> None:
    """Fail at once, with the reason, when there is no cluster to talk to."""
    try:
        asyncio.run(kubeapi.load_credentials())
    except kubeapi.CredentialsError as error:
        raise click.ClickException(str(error)) from error


def _configure(options: dict[str, Any]) -> OperatorConfig:
    # kopf logs INFO by default, and both its verbose and debug at DEBUG; here -v keeps
    # INFO (its default), and -d adds DEBUG, except for the API client's dumps of every
    # response body.
    verbose = bool(options.pop("verbose"))
    debug = bool(options.pop("debug"))
    kopf.configure(
        debug=debug,
        quiet=bool(options.pop("quiet")) and not verbose,
        log_format=_LOG_FORMATS[str(options.pop("log_format"))],
    )
    logging.getLogger("kubernetes_asyncio").setLevel(logging.INFO)
    groups = {"system:masters"}
    for value in options.pop("admin_groups"):
        groups.update(group.strip() for group in str(value).split(",") if group.strip())
    options["admin_groups"] = tuple(sorted(groups))

    key_file = options.pop("approval_key_file")
    if key_file is not None:
        key = key_file.read_bytes().strip()
        if len(key) < 16:
            raise click.BadParameter(
                f"The approval key in {key_file} is {len(key)} bytes; use at least 16 random "
                f"bytes, for example from `head -c 32 /dev/urandom | base64`.",
                param_hint="--approval-key-file",
            )
        options["approval_key"] = key

    try:
        options["reclaim_interval"] = intervals.parse(
            str(options["reclaim_interval"]), source="--reclaim-interval"
        )
        return OperatorConfig(**options)
    except (ConfigurationError, intervals.InvalidInterval) as error:
        raise click.UsageError(str(error)) from error


async def _serve_apiserver(
    *,
    host: str,
    port: int,
    kubeconfig: pathlib.Path,
    token_file: pathlib.Path | None,
    authorization: str,
) -> None:
    from serverops.apiserver import LocalAPIServer

    server = LocalAPIServer(
        host=host,
        port=port,
        crd_paths=definitions.crd_paths(),
        token_file=token_file,
        authorization=authorization,
    )
    await server.start()
    try:
        server.write_kubeconfig(kubeconfig)
        click.echo(f"The local API server listens on {server.url}.")
        click.echo(f"Its kubeconfig is {kubeconfig.resolve()}.")
        await asyncio.Event().wait()
    finally:
        await server.stop()


async def _serve_dev(
    *, port: int, kubeconfig: pathlib.Path, operator_args: tuple[str, ...]
) -> None:
    from serverops.apiserver import LocalAPIServer

    # Two users, so that the 409 for a locked server can be seen: an administrator (the
    # operator runs as one too) and a developer, who is not one.
    admin_token, developer_token = secrets.token_hex(16), secrets.token_hex(16)
    server = LocalAPIServer(
        host="127.0.0.1",
        port=port,
        crd_paths=definitions.crd_paths(),
        tokens={
            admin_token: ("admin", ["system:masters"]),
            developer_token: ("developer", ["developers"]),
        },
    )
    await server.start()
    operator: asyncio.subprocess.Process | None = None
    try:
        kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        admin = server.write_kubeconfig(kubeconfig, token=admin_token).resolve()
        developer_path = kubeconfig.with_name(kubeconfig.name + "-developer")
        developer = server.write_kubeconfig(developer_path, token=developer_token).resolve()
        click.echo(
            f"The local API server listens on {server.url}; the operator runs against it.\n"
            f"In another terminal:\n"
            f"  export KUBECONFIG={admin}\n"
            f"  kubectl apply -f examples/\n"
            f"  kubectl get servers,ports\n"
            f"  kubectl delete server web-1\n"
            f"As a user who is not an administrator, deleting the locked db-1 gets 409:\n"
            f"  kubectl --kubeconfig {developer} delete server db-1\n"
            f"Press Ctrl+C to stop both."
        )
        operator = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "serverops",
            "run",
            "--all-namespaces",
            "--standalone",
            f"--webhook-port={_free_port()}",
            "--webhook-configure",
            *operator_args,
            env=dict(os.environ, KUBECONFIG=str(admin)),
        )
        code = await operator.wait()
        raise click.ClickException(f"The operator exited with code {code}; see its log above.")
    finally:
        if operator is not None and operator.returncode is None:
            operator.terminate()
            await operator.wait()
        await server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
