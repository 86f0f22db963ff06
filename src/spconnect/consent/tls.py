"""Local https mode: when the redirect URI's host resolves to loopback (a name mapped to
127.0.0.1 in the hosts file), the listener serves TLS on that host, port and path, with
the user's certificate (--cert/--key) or a self-signed one made once with ``cryptography``
and kept (0600) in the config directory."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from spconnect.errors import UsageError
from spconnect.store import files, paths

CERT_VALIDITY_DAYS = 825


def loopback_address(host: str) -> str | None:
    """The IPv4 loopback address ``host`` resolves to, or None when it does not resolve
    only to loopback (a host that also resolves elsewhere is not ours to serve)."""
    try:
        infos = socket.getaddrinfo(host, None, family=socket.AF_INET, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    addresses = {str(info[4][0]) for info in infos}
    if addresses and all(ipaddress.ip_address(a).is_loopback for a in addresses):
        return sorted(addresses)[0]
    return None


@dataclass(frozen=True)
class LocalHttps:
    """Where local https mode listens for an app: exactly the host, port and path of the
    redirect URI registered at Amazon, which sends the answer there and nowhere else."""

    redirect_uri: str
    host: str
    bind_address: str
    port: int
    path: str

    def check_port(self, requested: int | None, app_name: str) -> None:
        """Refuse a listening port other than the registered one (issue 9, item 6): the
        listener would wait on it while Amazon sends the browser to the registered port."""
        if requested is None or requested == self.port:
            return
        raise UsageError(
            f"--port {requested} cannot be used with app {app_name!r}: its redirect URI "
            f"{self.redirect_uri} is registered at Amazon, which sends the answer to port "
            f"{self.port} only",
            f"leave out --port and free port {self.port} if something uses it, or use "
            "--paste; another port needs another redirect URI registered in Developer Central",
        )


def local_https(redirect_uri: str) -> LocalHttps | None:
    """The local https target of ``redirect_uri``, or None when its host is not this
    machine (then the answer comes back through the relay page or a paste)."""
    parts = urlsplit(redirect_uri)
    host = parts.hostname or ""
    bind = loopback_address(host) if host else None
    if bind is None:
        return None
    try:
        port = parts.port or 443
    except ValueError:  # out of range: not a URI Amazon would have registered
        return None
    return LocalHttps(redirect_uri, host, bind, port, parts.path or "/")


@dataclass(frozen=True)
class Certificate:
    cert_path: str
    key_path: str
    created: bool  # True when spconnect made it just now (the browser will warn once)
    self_signed: bool

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert_path, self.key_path)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(
                f"cannot use the certificate {self.cert_path} with key {self.key_path}: {exc}",
                "check --cert/--key (PEM files, the key unencrypted)",
            ) from None
        return context


def _tls_dir() -> str:
    return os.path.join(paths.config_dir(), "tls")


def self_signed_certificate(host: str) -> Certificate:
    """The self-signed certificate for ``host``, made on first use."""
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in host.lower())
    cert_path = os.path.join(_tls_dir(), f"{safe}.crt")
    key_path = os.path.join(_tls_dir(), f"{safe}.key")
    if os.path.exists(cert_path) and os.path.exists(key_path):
        return Certificate(cert_path, key_path, created=False, self_signed=True)

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, host),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "spconnect (local)"),
        ]
    )
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    files.write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    files.write_private(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return Certificate(cert_path, key_path, created=True, self_signed=True)


def user_certificate(cert: str, key: str) -> Certificate:
    for path, flag in ((cert, "--cert"), (key, "--key")):
        if not os.path.isfile(path):
            raise UsageError(f"{flag} {path}: no such file", f"give the PEM file with {flag}")
    return Certificate(cert, key, created=False, self_signed=False)
