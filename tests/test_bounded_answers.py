"""Hostile servers on 127.0.0.1 against the LWA and SP-API clients (issue 8, section 5):
a server that trickles bytes must not hold a call past its deadline, and a huge body or a
gzip bomb must not be read whole into memory."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spconnect.amazon import spapi
from spconnect.amazon.lwa import LwaClient, RetryPolicy
from spconnect.errors import AmazonUnavailable, ExitCode

GRANT = (
    b'{"access_token":"Atza|IwEBIhostile","token_type":"bearer","expires_in":3600,'
    b'"refresh_token":"Atzr|IwEBIhostile"}'
)


class HostileServer:
    """A TCP server that reads one HTTP request per connection and answers it with
    ``behaviour(server, connection)``; counts connections and bytes sent."""

    def __init__(
        self,
        behaviour: Callable[[HostileServer, socket.socket], None],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.behaviour = behaviour
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.bytes_sent = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        if self.tls is not None:
            try:
                connection = self.tls.wrap_socket(connection, server_side=True)
            except OSError:
                return
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                data = connection.recv(65536)
                if not data:
                    return
                request += data
            head, _, body = request.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += connection.recv(65536)
            self.behaviour(self, connection)

    def send(self, connection: socket.socket, data: bytes) -> bool:
        """False once the client has gone (or the test is over)."""
        if self.stopped.is_set():
            return False
        try:
            connection.sendall(data)
        except OSError:
            return False
        self.bytes_sent += len(data)
        return True

    def trickle(self, connection: socket.socket, data: bytes, every: float = 0.05) -> None:
        for i in range(len(data)):
            if not self.send(connection, data[i : i + 1]):
                return
            time.sleep(every)


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[HostileServer, socket.socket], None]], HostileServer]]:
    servers: list[HostileServer] = []

    def start(
        behaviour: Callable[[HostileServer, socket.socket], None],
        tls: ssl.SSLContext | None = None,
    ) -> HostileServer:
        server = HostileServer(behaviour, tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stopped.set()
        server.listener.close()


def trickled_body(server: HostileServer, connection: socket.socket) -> None:
    # Headers at once, then the body one byte every 50 ms: no read ever waits long
    # enough for a read timeout, and the whole answer would take about 5 s.
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    if server.send(connection, head % len(GRANT)):
        server.trickle(connection, GRANT)


def trickled_headers(server: HostileServer, connection: socket.socket) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 60
    server.trickle(connection, head + b"\r\nContent-Length: %d\r\n\r\n" % len(GRANT) + GRANT)


def huge_html(status: bytes) -> Callable[[HostileServer, socket.socket], None]:
    def behaviour(server: HostileServer, connection: socket.socket) -> None:
        # A proxy's error page of 50 MB (the issue saw 300 MB use 1.9 GB of memory).
        size = 50 * 1024 * 1024
        head = b"HTTP/1.1 %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
        page = b"<html><head><title>Request blocked by policy</title></head><body>"
        if not server.send(connection, head % (status, size) + page):
            return
        chunk = b"<p>padding</p>" * 4096
        sent = len(page)
        while sent < size and server.send(connection, chunk[: size - sent]):
            sent += len(chunk)

    return behaviour


def gzip_bomb(server: HostileServer, connection: socket.socket) -> None:
    # 64 MB of zeros compress to about 64 KB; httpx would inflate all of it.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = b"".join(compressor.compress(b"\0" * (1 << 20)) for _ in range(64))
    body += compressor.flush()
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    server.send(connection, head + body)


def lwa(server: HostileServer, **options: object) -> LwaClient:
    return LwaClient(
        server.url + "/auth/o2/token",
        sleep=lambda _: None,
        jitter=lambda: 0.0,
        **options,  # type: ignore[arg-type]
    )


def refresh(client: LwaClient) -> None:
    client.refresh(
        client_id="amzn1.application-oa2-client.0123456789abcdef",
        client_secret="amzn1.oa2-cs.v1.hostile-test-secret",
        refresh_token="Atzr|IwEBIhostile-test-refresh",
    )


@pytest.mark.parametrize("behaviour", [trickled_body, trickled_headers])
def test_a_trickling_server_cannot_hold_an_attempt_past_its_deadline(
    serve: Callable[..., HostileServer],
    behaviour: Callable[[HostileServer, socket.socket], None],
) -> None:
    server = serve(behaviour)
    client = lwa(server, timeout=1.0, deadline=0.5, retry=RetryPolicy(max_attempts=2))
    started = time.monotonic()
    with pytest.raises(AmazonUnavailable) as info:
        refresh(client)
    elapsed = time.monotonic() - started
    assert info.value.exit_code == ExitCode.AMAZON_UNAVAILABLE
    assert "timed out: no complete answer within 0.5 s" in info.value.message
    assert server.connections == 2  # each attempt was cut, then retried
    assert elapsed < 2.0, elapsed


@pytest.mark.parametrize("behaviour", [trickled_body, trickled_headers])
def test_a_trickling_server_cannot_hold_the_call_past_its_total_budget(
    serve: Callable[..., HostileServer],
    behaviour: Callable[[HostileServer, socket.socket], None],
) -> None:
    server = serve(behaviour)
    client = lwa(server, timeout=1.0, retry=RetryPolicy(max_attempts=3, max_total_seconds=0.8))
    started = time.monotonic()
    with pytest.raises(AmazonUnavailable, match="budget ran out"):
        refresh(client)
    assert time.monotonic() - started < 2.0


def test_the_deadline_holds_over_tls(
    serve: Callable[..., HostileServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watchdog shuts down the socket under a TLS stream as well."""
    import httpx

    from spconnect.amazon import bounded
    from spconnect.consent.tls import self_signed_certificate

    monkeypatch.setenv("SPCONNECT_CONFIG_DIR", str(tmp_path))
    certificate = self_signed_certificate("127.0.0.1")
    server = serve(trickled_headers, tls=certificate.server_context())
    trusted = ssl.create_default_context(cafile=certificate.cert_path)
    transport = httpx.HTTPTransport(verify=trusted, limits=bounded.NO_KEEPALIVE)
    client = lwa(server, transport=transport, timeout=1.0, deadline=0.5)
    client.retry = RetryPolicy(max_attempts=1)
    started = time.monotonic()
    with pytest.raises(AmazonUnavailable, match=r"within 0\.5 s"):
        refresh(client)
    assert time.monotonic() - started < 1.5
    assert server.connections == 1


def peak_memory(call: Callable[[], object]) -> tuple[int, BaseException | None]:
    """Peak bytes allocated by Python while ``call`` runs, and what it raised."""
    tracemalloc.start()
    error: BaseException | None = None
    try:
        call()
    except BaseException as exc:
        error = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, error


def test_a_huge_html_error_page_is_capped_and_is_a_network_problem(
    serve: Callable[..., HostileServer],
) -> None:
    server = serve(huge_html(b"403 Forbidden"))
    peak, error = peak_memory(lambda: refresh(lwa(server, timeout=5.0)))
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert isinstance(error, AmazonUnavailable), error
    assert "HTTP 403" in error.message and "Request blocked by policy" in error.message
    assert server.bytes_sent < 25 * 1024 * 1024  # the client stopped reading


def test_a_gzip_bomb_is_not_inflated_whole(serve: Callable[..., HostileServer]) -> None:
    server = serve(gzip_bomb)
    peak, error = peak_memory(lambda: refresh(lwa(server, timeout=5.0)))
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert isinstance(error, AmazonUnavailable), error
    assert "longer than 64 KiB" in error.message


# -- the SP-API client has the same needs (amazon.md section 9) ------------------------------


def participations(server: HostileServer, **options: float) -> None:
    spapi.marketplace_participations(server.url, "Atza|IwEBIhostile", profile="p", **options)


@pytest.mark.parametrize("behaviour", [trickled_body, trickled_headers])
def test_a_trickling_sp_api_endpoint_is_cut_at_the_deadline(
    serve: Callable[..., HostileServer],
    behaviour: Callable[[HostileServer, socket.socket], None],
) -> None:
    server = serve(behaviour)
    started = time.monotonic()
    with pytest.raises(AmazonUnavailable, match=r"within 0\.5 s"):
        participations(server, timeout=1.0, deadline=0.5)
    assert time.monotonic() - started < 1.5


def test_a_huge_html_page_from_a_proxy_in_front_of_the_sp_api_is_exit_6(
    serve: Callable[..., HostileServer],
) -> None:
    server = serve(huge_html(b"403 Forbidden"))
    peak, error = peak_memory(lambda: participations(server, timeout=5.0))
    assert isinstance(error, AmazonUnavailable), error  # not exit 4, "the token was refused"
    assert "HTTP 403" in error.message and "Request blocked by policy" in error.message
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_gzip_bomb_from_the_sp_api_is_not_inflated_whole(
    serve: Callable[..., HostileServer],
) -> None:
    server = serve(gzip_bomb)
    peak, error = peak_memory(lambda: participations(server, timeout=5.0))
    assert isinstance(error, AmazonUnavailable), error
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
