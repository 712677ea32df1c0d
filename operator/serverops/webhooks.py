"""The admission webhooks: which requests they see, their TLS, and their configuration.

kopf serves each admission handler at ``https://<host>:<port>/<handler id>``. In a
cluster, the Helm chart and the Kustomize base ship the Validating- and
MutatingWebhookConfiguration; for local runs, ``serverops run --webhook-configure``
creates them from :func:`configurations`, with a CA bundle for a certificate it generated
itself (with the ``cryptography`` package: kopf's own generator needs a library that fails
with OpenSSL 3).

Failure policies, chosen per concern:

- Deletions (``DELETE`` of a Server or DeletedServer) use ``Ignore``: when the operator is
  down, deleting an unlocked server must still work for GitOps prunes and namespace
  cleanup, and a locked one is still held by the finalizer, which is the backstop.
- Creations and updates use ``Fail``: they carry the input checks and the rule that only
  an administrator clears an administrator's lock, which an outage must not bypass.

``timeoutSeconds`` is 5: the checks read only the operator's memory (the approval is the
one write), so a slow answer means a sick operator, and kubectl and GitOps tools should
hear about it in seconds rather than wait the API server's default of 10.
"""

import base64
import dataclasses
import datetime
import ipaddress
import logging
import pathlib
import tempfile
from typing import Any, cast

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from serverops import constants

logger = logging.getLogger(__name__)

CONFIGURATION_NAME = f"serverops.{constants.GROUP}"
TIMEOUT_SECONDS = 5


@dataclasses.dataclass(frozen=True)
class Hook:
    """One webhook: a kopf handler id and the requests the API server sends it."""

    id: str
    mutating: bool
    plural: str
    operations: tuple[str, ...]
    failure_policy: str
    side_effects: str = "None"


HOOKS = (
    Hook("mutate-server", True, constants.SERVERS, ("CREATE", "UPDATE"), "Fail"),
    Hook("validate-server", False, constants.SERVERS, ("CREATE", "UPDATE"), "Fail"),
    # It writes an administrator's approval on the server, except for a dry run.
    Hook("validate-server-delete", False, constants.SERVERS, ("DELETE",), "Ignore", "NoneOnDryRun"),
    Hook("validate-deletedserver", False, constants.DELETED_SERVERS, ("CREATE", "UPDATE"), "Fail"),
    Hook(
        "validate-deletedserver-delete",
        False,
        constants.DELETED_SERVERS,
        ("DELETE",),
        "Ignore",
        "NoneOnDryRun",
    ),
    Hook("validate-port", False, constants.PORTS, ("CREATE", "UPDATE"), "Fail"),
)


@dataclasses.dataclass(frozen=True)
class TLSFiles:
    """A certificate and key for the webhook server, and the CA bundle that verifies it."""

    certfile: pathlib.Path
    keyfile: pathlib.Path
    ca_pem: bytes


def generate_tls(*, host: str, directory: pathlib.Path | None = None) -> TLSFiles:
    """Generate a self-signed CA and a server certificate for ``host``, in ``directory``.

    The certificate also names 127.0.0.1 and localhost, and is valid for a year.
    """
    folder = directory or pathlib.Path(tempfile.mkdtemp(prefix="serverops-webhook-"))
    now = datetime.datetime.now(datetime.UTC)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "serverops webhook CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for candidate in {host, "127.0.0.1"}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(candidate)))
        except ValueError:
            names.append(x509.DNSName(candidate))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    certfile = folder / "tls.crt"
    keyfile = folder / "tls.key"
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + ca_pem)
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    keyfile.chmod(0o600)
    return TLSFiles(certfile=certfile, keyfile=keyfile, ca_pem=ca_pem)


def server(*, address: str, port: int, host: str, tls: TLSFiles) -> kopf.WebhookServer:
    """Return kopf's webhook server for these settings."""
    return kopf.WebhookServer(
        addr=address,
        port=port,
        host=host,
        certfile=str(tls.certfile),
        pkeyfile=str(tls.keyfile),
        cadata=tls.ca_pem,
    )


def configurations(*, client_config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the Validating- and MutatingWebhookConfiguration for every hook.

    ``client_config`` is the ``clientConfig`` without the path: a ``url`` ending in the
    host and port, or a ``service`` reference, plus the ``caBundle``.
    """
    validating: list[dict[str, Any]] = []
    mutating: list[dict[str, Any]] = []
    for hook in HOOKS:
        entry: dict[str, Any] = {
            "name": f"{hook.id}.{constants.GROUP}",
            "rules": [
                {
                    "apiGroups": [constants.GROUP],
                    "apiVersions": [constants.VERSION],
                    "resources": [hook.plural],
                    "operations": list(hook.operations),
                    "scope": "Namespaced",
                }
            ],
            "clientConfig": _with_path(client_config, f"/{hook.id}"),
            "failurePolicy": hook.failure_policy,
            "sideEffects": hook.side_effects,
            "timeoutSeconds": TIMEOUT_SECONDS,
            "admissionReviewVersions": ["v1"],
            "matchPolicy": "Equivalent",
        }
        (mutating if hook.mutating else validating).append(entry)

    def wrap(kind: str, webhooks: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": {
                "name": CONFIGURATION_NAME,
                "labels": {constants.LABEL_MANAGED_BY: constants.MANAGED_BY},
            },
            "webhooks": webhooks,
        }

    return (
        wrap("ValidatingWebhookConfiguration", validating),
        wrap("MutatingWebhookConfiguration", mutating),
    )


async def install(api_client: client.ApiClient, *, url: str, ca_pem: bytes) -> None:
    """Create or replace both configurations, pointing at ``url`` (https://host:port)."""
    ca_bundle = base64.b64encode(ca_pem).decode()
    validating, mutating = configurations(client_config={"url": url, "caBundle": ca_bundle})
    api = client.AdmissionregistrationV1Api(api_client)
    for body, create, replace in (
        (
            validating,
            api.create_validating_webhook_configuration,
            api.replace_validating_webhook_configuration,
        ),
        (
            mutating,
            api.create_mutating_webhook_configuration,
            api.replace_mutating_webhook_configuration,
        ),
    ):
        try:
            await create(cast(Any, body))
        except ApiException as error:
            if error.status != 409:
                raise
            current = await (
                api.read_validating_webhook_configuration(CONFIGURATION_NAME)
                if body["kind"].startswith("Validating")
                else api.read_mutating_webhook_configuration(CONFIGURATION_NAME)
            )
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            await replace(CONFIGURATION_NAME, cast(Any, body))
        logger.info(f"Installed the {body['kind']} {CONFIGURATION_NAME} for {url}.")


async def uninstall(api_client: client.ApiClient) -> None:
    """Delete both configurations, so that no API server calls a webhook that is gone."""
    api = client.AdmissionregistrationV1Api(api_client)
    for delete in (
        api.delete_validating_webhook_configuration,
        api.delete_mutating_webhook_configuration,
    ):
        try:
            await delete(CONFIGURATION_NAME)
        except ApiException as error:
            if error.status != 404:
                raise
    logger.info(f"Removed the webhook configurations {CONFIGURATION_NAME}.")


def _with_path(client_config: dict[str, Any], path: str) -> dict[str, Any]:
    result = dict(client_config)
    if "url" in result:
        result["url"] = result["url"].rstrip("/") + path
    if "service" in result:
        result["service"] = {**result["service"], "path": path}
    return result
