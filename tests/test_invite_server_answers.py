"""What `spconnect server add` and `invite` do with answers the real server never gives:
garbage, an oversized or trickling body, a redirect, a proxy's 401 or 502 page, a closed
port, an untrusted certificate.

These need a server that misbehaves on purpose, so they use a tiny local HTTP stub (the
one place the invite tests do not run `spconnect serve`); every answer a well-behaved
server gives is tested against the real one (tests/test_invite_flow.py).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from spconnect.errors import ExitCode
from tests.conftest import Cli, free_port

TOKEN = "stub-admin-token-" + "0123456789abcdef" * 2

Answer = Callable[[BaseHTTPRequestHandler], None]


class Stub:
    """A loopback HTTP(S) server whose every answer is ``answer``; records what came."""

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[tuple[str, str, str | None]] = []  # method, path, authorization
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                stub.seen.append(("GET", self.path, self.headers.get("authorization")))
                answer(self)

            do_POST = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_server() -> Iterator[Callable[..., Stub]]:
    started: list[Stub] = []

    def start(answer: Answer, tls: ssl.SSLContext | None = None) -> Stub:
        started.append(Stub(answer, tls))
        return started[-1]

    yield start
    for stub in started:
        stub.stop()


def send(
    status: int, body: bytes, content_type: str = "application/json", **headers: str
) -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("content-type", content_type)
        handler.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def add(cli: Cli, url: str, *extra: str) -> tuple[int, str, str]:
    result = cli.run("server", "add", "stub", "--url", url, "--token-stdin", *extra, input=TOKEN)
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.output
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (send(200, b"<html><title>Welcome to nginx</title></html>", "text/html"), "HTML page"),
        (send(200, b'{"app": 1}'), "app is not a string"),
        (send(200, b"[]"), "did not answer as the admin API"),
        (send(200, b'{"app": "x", "client_id": "amzn1.sp.solution.1"}'), "LWA client id"),
        (send(200, b'{"x": "' + b"a" * 70_000 + b'"}'), "longer than 64 KiB"),
        (send(502, b"<h1>Bad Gateway</h1>", "text/html"), "HTTP 502"),
        (send(404, b"not found", "text/plain"), "HTTP 404"),
        # Deeper than Python's recursion limit: json.loads raises RecursionError, not
        # ValueError.
        (send(200, b'{"app": ' + b"[" * 60_000), "did not answer as the admin API"),
        (send(400, b'{"error": ' + b"[" * 60_000), "did not answer as the admin API"),
    ],
    ids=[
        "html",
        "wrong-type",
        "array",
        "app-id-as-client-id",
        "oversized",
        "502",
        "404",
        "deeply-nested",
        "deeply-nested-error",
    ],
)
def test_an_answer_that_is_not_the_admin_api_is_exit_6(
    cli: Cli, stub_server: Callable[..., Stub], answer: Answer, expected: str
) -> None:
    stub = stub_server(answer)
    code, stdout, stderr = add(cli, stub.url)
    assert code == ExitCode.AMAZON_UNAVAILABLE, stderr
    assert expected in stderr
    assert stdout == ""
    assert stub.seen == [("GET", "/admin/v1/info", f"Bearer {TOKEN}")]
    assert not (cli.config_dir / "config.toml").exists()  # nothing stored


def test_a_proxy_401_is_the_admin_token_refused(cli: Cli, stub_server: Callable[..., Stub]) -> None:
    stub = stub_server(send(401, b"<h1>Authorization Required</h1>", "text/html"))
    code, _, stderr = add(cli, stub.url)
    assert code == ExitCode.NOT_SET_UP
    assert "refused the admin token" in stderr
    assert "the server printed as `admin token: …` on its first start" in stderr


def test_a_redirect_is_not_followed_with_the_token(
    cli: Cli, stub_server: Callable[..., Stub]
) -> None:
    elsewhere = stub_server(send(200, b"{}"))
    stub = stub_server(send(308, b"", location=f"{elsewhere.url}/admin/v1/info"))
    code, _, stderr = add(cli, stub.url)
    assert code == ExitCode.USAGE
    assert "redirect (HTTP 308 to" in stderr and "not sent on after a redirect" in stderr
    assert elsewhere.seen == []  # the token went nowhere else


def test_a_trickling_server_is_cut_at_the_deadline(
    cli: Cli, stub_server: Callable[..., Stub]
) -> None:
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.end_headers()
        try:
            for _ in range(60):  # one byte a second: never a read timeout, never done
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(1)
        except OSError:
            pass

    stub = stub_server(trickle)
    started = time.monotonic()
    code, _, stderr = add(cli, stub.url)
    assert code == ExitCode.AMAZON_UNAVAILABLE
    assert "no complete answer within 20 s" in stderr
    assert time.monotonic() - started < 40


def test_a_closed_port_is_unreachable(cli: Cli) -> None:
    code, _, stderr = add(cli, f"http://127.0.0.1:{free_port()}")
    assert code == ExitCode.AMAZON_UNAVAILABLE
    assert "cannot reach the invite server 'stub'" in stderr and "ConnectError" in stderr


def test_an_untrusted_certificate_is_refused(
    cli: Cli, stub_server: Callable[..., Stub], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPCONNECT_CONFIG_DIR", str(tmp_path / "tls"))
    from spconnect.consent.tls import self_signed_certificate

    stub = stub_server(send(200, b"{}"), tls=self_signed_certificate("127.0.0.1").server_context())
    code, _, stderr = add(cli, stub.url)
    assert code == ExitCode.AMAZON_UNAVAILABLE
    assert "CERTIFICATE_VERIFY_FAILED" in stderr
    assert stub.seen == []  # the token was never sent


def test_the_admin_token_is_bounded_and_visible_ascii(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for token, reason in (
        ("short", "16 to 512 characters"),
        ("x" * 600, "16 to 512 characters"),
        ("with a space in the middle of it", "spaces, control or non-ASCII"),
    ):
        result = cli.run("server", "add", "stub", "--url", url, "--token-stdin", input=token)
        assert result.returncode == ExitCode.USAGE, result.stderr
        assert reason in result.stderr
        assert token not in result.stderr
    result = cli.run("server", "add", "stub", "--url", url, "--token-stdin", input="x" * 70_000)
    assert result.returncode == ExitCode.USAGE
    assert "longer than 64 KiB" in result.stderr
