"""Every HTTP client of a process shares one TLS context (amazon/client_tls.py), made
once: the invite server exchanges a code per seller and ``invite pull`` calls the admin
API and LWA per invite, and loading the CA bundle for each client was most of their CPU.
Shared, it still verifies certificates, against a real TLS server on 127.0.0.1."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from spconnect.amazon import client_tls
from spconnect.amazon.lwa import LwaClient, RetryPolicy
from spconnect.consent.tls import Certificate, self_signed_certificate
from spconnect.errors import AmazonUnavailable
from tests.test_bounded_answers import GRANT, HostileServer, refresh


def granted(server: HostileServer, connection: socket.socket) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    server.send(connection, head % len(GRANT) + GRANT)


@pytest.fixture
def https_lwa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Certificate]]:
    """An LWA token endpoint over TLS with a self-signed certificate; the shared contexts
    are made afresh for the test and dropped after it (one may trust that certificate)."""
    monkeypatch.setenv("SPCONNECT_CONFIG_DIR", str(tmp_path))
    certificate = self_signed_certificate("127.0.0.1")
    server = HostileServer(granted, tls=certificate.server_context())
    client_tls._verifying.cache_clear()
    yield server.url + "/auth/o2/token", certificate
    client_tls._verifying.cache_clear()
    server.stopped.set()
    server.listener.close()


def test_a_certificate_nobody_trusts_is_refused(https_lwa: tuple[str, Certificate]) -> None:
    url, _ = https_lwa
    with pytest.raises(AmazonUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        refresh(LwaClient(url, retry=RetryPolicy(max_attempts=1)))


def test_clients_load_the_trusted_certificates_once_between_them(
    https_lwa: tuple[str, Certificate], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three clients, one loading of the CA bundle (here the file SSL_CERT_FILE names,
    which httpx honours as before); each verifies the server with it."""
    url, certificate = https_lwa
    monkeypatch.setenv("SSL_CERT_FILE", certificate.cert_path)
    loaded: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loaded.append(args or kwargs)
        load(context, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    for _ in range(3):
        refresh(LwaClient(url, retry=RetryPolicy(max_attempts=1)))
    assert len(loaded) == 1


def test_a_plain_http_client_gets_a_context_that_trusts_no_one() -> None:
    """Never used for TLS (one origin, no redirect followed); were it ever, nothing would
    verify."""
    context = client_tls.context_for("http://127.0.0.1:8080")
    assert context is client_tls.context_for("http://localhost/auth/o2/token")
    assert context.cert_store_stats()["x509_ca"] == 0
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    verifying = client_tls.context_for("https://api.amazon.com/auth/o2/token")
    assert verifying is client_tls.context_for("HTTPS://sellingpartnerapi-eu.amazon.com")
    assert verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname
    assert verifying.cert_store_stats()["x509_ca"] > 0
