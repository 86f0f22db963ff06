"""The browser tests' TLS terminator (tests/tls_terminator.py) does what docs/serve.md asks
of Caddy or nginx: TLS outside, plain http to the server with ``Host`` kept and
``X-Forwarded-Proto``/``-For`` set by itself, and bounds on what a client may send."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests import tls_terminator
from tests.conftest import free_port
from tests.tls_terminator import TlsTerminator, self_signed_context

HOST = "connect.example.test"


class EchoServer:
    """A plain-http upstream that answers each request with what it received, as JSON."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _echo(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.dumps(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": [[k.lower(), v] for k, v in self.headers.items()],
                        "body": self.rfile.read(length).decode(),
                        "peer": self.client_address[0],
                    }
                ).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Keep-Alive", "timeout=5")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _echo

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[TlsTerminator]:
    upstream = EchoServer()
    with TlsTerminator(self_signed_context(HOST, tmp_path), upstream.url) as terminator:
        yield terminator
    upstream.close()


def exchange(proxy: TlsTerminator, raw: bytes, *, pause: float = 0) -> bytes:
    """Send ``raw`` over TLS (SNI: the public host name) and read the answer to its end."""
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE  # the test's self-signed certificate
    plain = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    with client.wrap_socket(plain, server_hostname=HOST) as tls:
        tls.sendall(raw)
        if pause:
            time.sleep(pause)
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
        return received


def test_a_request_reaches_the_server_with_host_kept_and_forwarded_headers_set(
    proxy: TlsTerminator,
) -> None:
    body = b"a=1&b=2"
    answer = exchange(
        proxy,
        b"POST /i/abc?state=secret HTTP/1.1\r\nHost: connect.example.test\r\n"
        b"X-Forwarded-For: 198.51.100.7\r\nX-Forwarded-Proto: http\r\nKeep-Alive: 300\r\n"
        b"Connection: keep-alive, X-Private\r\nX-Private: hop\r\nCookie: a=b\r\n"
        b"Content-Length: 7\r\n\r\n" + body,
    )
    head, _, payload = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 201 Created"
    assert "Connection: close" in lines and not any(h.startswith("Keep-Alive") for h in lines)
    seen = json.loads(payload)
    headers = dict(seen["headers"])
    assert seen["method"] == "POST" and seen["path"] == "/i/abc?state=secret"
    assert seen["body"] == "a=1&b=2" and seen["peer"] == "127.0.0.1"
    assert headers["host"] == "connect.example.test" and headers["cookie"] == "a=b"
    # Set by the terminator, whatever the client claimed.
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["connection"] == "close"
    assert "keep-alive" not in headers and "x-private" not in headers
    assert [n for n, _ in seen["headers"]].count("x-forwarded-for") == 1
    # The access log has no query string.
    assert [(e.method, e.path, e.status) for e in proxy.exchanges] == [("POST", "/i/abc", 201)]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET http://elsewhere/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # not a proxy
        (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
    ],
    ids=["head-too-large", "body-too-large", "chunked", "no-host", "absolute-form", "folded"],
)
def test_requests_out_of_bounds_are_refused_by_the_terminator(
    proxy: TlsTerminator, raw: bytes, status: int
) -> None:
    answer = exchange(proxy, raw)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:100]
    assert all(e.status == status for e in proxy.exchanges)


def test_a_client_that_trickles_its_request_is_dropped(
    proxy: TlsTerminator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tls_terminator, "IO_TIMEOUT", 0.3)
    answer = exchange(proxy, b"GET / HTTP/1.1\r\nHost: x\r\n", pause=1)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_server_that_is_down_is_a_502(proxy: TlsTerminator) -> None:
    proxy.upstream = f"http://127.0.0.1:{free_port()}"
    answer = exchange(proxy, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 502 ")
