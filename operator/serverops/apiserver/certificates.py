"""
Self-signed serving certificates, made with the ``cryptography`` package.

The server serves HTTPS when authentication is on, because kubectl (client-go) sends
credentials only over TLS: with a plain ``http://`` server in the kubeconfig it drops
the token and every request is a 401. Tests also use :func:`self_signed` for admission
webhooks. kopf's own generator (certbuilder with oscrypto) fails with OpenSSL 3.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import pathlib
import ssl
import tempfile
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")


@dataclasses.dataclass(frozen=True)
class KeyPair:
    """A certificate that is its own authority, and its private key, both in PEM."""

    certificate_pem: bytes
    key_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        """Return an SSL context that serves this certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # The ssl module loads a chain only from files; they live until loaded.
        descriptor, path = tempfile.mkstemp(suffix=".pem")
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(self.certificate_pem + self.key_pem)
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Return an SSL context that trusts this certificate, for clients of the server."""
        return ssl.create_default_context(cadata=self.certificate_pem.decode())

    def write(self, directory: pathlib.Path, prefix: str) -> tuple[pathlib.Path, pathlib.Path]:
        """Write ``<prefix>.crt`` and ``<prefix>.key``; return their paths."""
        certificate = directory / f"{prefix}.crt"
        key = directory / f"{prefix}.key"
        certificate.write_bytes(self.certificate_pem)
        key.write_bytes(self.key_pem)
        return certificate, key


def self_signed(names: Sequence[str] = LOOPBACK_NAMES, *, days: int = 7) -> KeyPair:
    """Make a certificate valid for the IP addresses and DNS names, signed by its own key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyPair(certificate.public_bytes(serialization.Encoding.PEM), key_pem)
