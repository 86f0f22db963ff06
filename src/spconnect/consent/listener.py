"""The loopback listener that receives the consent answer.

Modelled on the care of MSAL's oauth2cli/authcode.py:

- It binds a loopback IP literal, never 0.0.0.0 or '' (RFC 8252 section 8.3: listening on
  all interfaces would expose the code to the network).
- It serves its callback path only; anything else (favicon, probes) gets 404 and the
  listener keeps waiting, because browsers and extensions send stray requests.
- It checks the Host header, so a DNS-rebinding page cannot talk to it under another name.
- It checks ``state`` (constant-time) and keeps waiting after a wrong one: an attacker's
  or a stale answer must neither be accepted nor end the real login.
- It answers the browser before handing the code on, so the person sees a result at once
  and the exchange happens within the code's 5-minute life.
- It runs the server in a thread so that the waiting thread stays interruptible (Ctrl-C).
"""

from __future__ import annotations

import errno
import logging
import queue
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from spconnect.consent import pages
from spconnect.consent.answers import (
    Authorized,
    Empty,
    ExpectedAnswer,
    Foreign,
    Hop,
    Refused,
    interpret,
)
from spconnect.errors import LoginIncomplete

log = logging.getLogger("spconnect.listener")

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ListenerEvent:
    """What the listener reports to the waiting login: an answer, or a note to show."""

    verdict: Authorized | Refused | None
    note: str | None = None
    input_ended: bool = False  # the paste prompt's input closed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], listener: CallbackListener) -> None:
        self.listener = listener
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "spconnect"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        # The request line carries state and code: never log it, not even at debug.
        log.debug("listener: %s %s", self.command, urlsplit(self.path).path)

    def _respond(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**pages.SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        return host in self.server.listener.allowed_hosts

    def do_OPTIONS(self) -> None:
        # The relay page may check that this listener is reachable before sending the
        # browser here; Chrome's Private Network Access preflight asks this of loopback.
        listener = self.server.listener
        if urlsplit(self.path).path != listener.path or not self._host_ok():
            self._respond(404, pages.not_found_page())
            return
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Methods", "GET")
        self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        listener = self.server.listener
        parts = urlsplit(self.path)
        if parts.path != listener.path:
            self._respond(404, pages.not_found_page())
            return
        if not self._host_ok():
            self._respond(
                400,
                pages.failure_page("Unexpected Host header.", "Use the address spconnect printed."),
            )
            listener.notify(note="ignored a request with an unexpected Host header")
            return
        params = dict(parse_qsl(parts.query, keep_blank_values=False))
        verdict = interpret(params, listener.expected)
        if isinstance(verdict, Empty):
            self._respond(
                200,
                pages.waiting_page(),
                {
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Allow-Private-Network": "true",
                },
            )
        elif isinstance(verdict, Hop):
            self.send_response(302)
            self.send_header("Location", verdict.target)
            self.send_header("Content-Length", "0")
            for name, value in pages.SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            listener.notify(note="Login URI visited; sent the browser on to Amazon's consent page")
        elif isinstance(verdict, Foreign):
            self._respond(400, pages.wrong_state_page())
            listener.notify(note=f"ignored an answer that is not this login's: {verdict.reason}")
        elif not listener.claim():
            # A final answer already arrived: state is single-use.
            finished = pages.failure_page(
                "This login has already finished.", "Look at your terminal."
            )
            self._respond(400, finished)
        elif isinstance(verdict, Authorized):
            self._respond(200, pages.success_page(verdict.selling_partner_id))
            listener.notify(verdict=verdict)
        else:
            assert isinstance(verdict, Refused)
            self._respond(400, pages.failure_page(verdict.reason, verdict.advice))
            listener.notify(verdict=verdict)

    do_HEAD = do_GET

    def _not_allowed(self) -> None:
        self._respond(405, pages.not_found_page(), {"Allow": "GET"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed


def _normalise_host(host: str, port: int, tls: bool) -> set[str]:
    default = 443 if tls else 80
    names = {f"{host}:{port}".lower()}
    if port == default:
        names.add(host.lower())
    return names


class CallbackListener:
    """Receives one consent answer on ``(bind_address, port)`` at ``path``.

    ``events`` is the queue the login waits on; the paste prompt may feed the same queue,
    so that whichever answer arrives first wins.
    """

    def __init__(
        self,
        expected: ExpectedAnswer,
        *,
        port: int,
        path: str = "/callback",
        host_name: str = LOOPBACK,
        bind_address: str = LOOPBACK,
        tls: ssl.SSLContext | None = None,
        events: queue.Queue[ListenerEvent] | None = None,
    ) -> None:
        if not bind_address.startswith("127."):
            raise ValueError("the listener binds loopback addresses only")
        self.expected = expected
        self.path = path or "/"
        self.events: queue.Queue[ListenerEvent] = events or queue.Queue()
        self._bind = (bind_address, port)
        self._tls = tls
        self._host_name = host_name
        self._claimed = False
        self._claim_lock = threading.Lock()
        self._server: _Server | None = None
        self.allowed_hosts: set[str] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> CallbackListener:
        try:
            server = _Server(self._bind, self)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise LoginIncomplete(
                    f"port {self._bind[1]} on {self._bind[0]} is already in use "
                    "(another spconnect login, or another program)",
                    "choose another with --port N (and use the same port in the relay page, "
                    "or let the port travel in state as it does by default)",
                ) from None
            raise
        if self._tls is not None:
            # Handshake in the request thread, not in accept(): a client that connects and
            # never speaks TLS must not block every other request.
            server.socket = self._tls.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        names = {self._host_name}
        if self._host_name == LOOPBACK:
            names.add("localhost")
        self.allowed_hosts = set().union(
            *(_normalise_host(n, self.port, self._tls is not None) for n in names)
        )
        threading.Thread(
            # A short poll: stop() (and with it the exchange of the code) waits for it.
            target=server.serve_forever,
            args=(0.05,),
            name="spconnect-listener",
            daemon=True,
        ).start()
        return self

    def claim(self) -> bool:
        """The first final answer (code or refusal) wins; state is single-use."""
        with self._claim_lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def notify(self, verdict: Authorized | Refused | None = None, note: str | None = None) -> None:
        self.events.put(ListenerEvent(verdict=verdict, note=note))

    def stop(self) -> None:
        """Stop serving and free the port."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def port_is_free(port: int, address: str = LOOPBACK) -> bool:
    """Whether a listener could bind ``port`` now (with SO_REUSEADDR, as the listener
    binds, so that connections in TIME_WAIT do not count as "in use")."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True
