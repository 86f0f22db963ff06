"""The loopback listener that receives the consent answer.

Modelled on the care of MSAL's oauth2cli/authcode.py:

- It binds a loopback IP literal, never 0.0.0.0 or '' (RFC 8252 section 8.3: listening on
  all interfaces would expose the code to the network).
- It serves its callback path only; anything else (favicon, probes) gets 404 and the
  listener keeps waiting, because browsers and extensions send stray requests.
- It checks the Host header, so a DNS-rebinding page cannot talk to it under another name.
- It checks ``state`` (constant-time) and keeps waiting after a wrong one: an attacker's
  or a stale answer must neither be accepted nor end the real login.
- It continues the Login-URI hop (which carries no state of ours) only for the browser
  that opened this login's single-use start address, since the hop's redirect reveals
  ``state`` (binding.py; issue 8, section 1). Any other hop request gets a refusal page
  without state, and the login keeps waiting.
- It answers the browser before handing the code on, so the person sees a result at once
  and the exchange happens within the code's 5-minute life.
- It runs in a thread so that the waiting thread stays interruptible (Ctrl-C).

Anything on this machine can connect to it, so it also expects hostile input (issue 8):
one thread and a selector serve every connection, so a flood of idle or slow connections
costs file descriptors, not threads, and cannot delay the real answer, which arrives in
one packet; a connection that has not sent a whole request head within ``idle_timeout``
is closed, and the oldest is dropped when ``max_connections`` are open. A request head
larger than ``MAX_HEAD_BYTES``, binary garbage or a malformed query gets a 4xx page and
the listener keeps waiting; nothing about such requests reaches the terminal.

It sends no CORS headers: the relay page reaches it by top-level navigation only (see
relay.py), which needs none, so no other web page may read its answers.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl

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
from spconnect.consent.binding import START_PARAMETER, BrowserBinding, StartUse
from spconnect.errors import LoginIncomplete

log = logging.getLogger("spconnect.listener")

LOOPBACK = "127.0.0.1"
# A real answer's request head is well under 4 KB (state, code, selling partner id, or the
# hop's Amazon address, plus a browser's headers); 16 KB leaves room for large cookies.
MAX_HEAD_BYTES = 16 * 1024
IDLE_TIMEOUT = 10.0  # seconds from connect to a whole request head (and to send the reply)
LINGER_TIMEOUT = 2.0  # seconds to drain what a client still sends after the reply
MAX_CONNECTIONS = 256


@dataclass(frozen=True)
class ListenerEvent:
    """What the listener reports to the waiting login: an answer, or a note to show."""

    verdict: Authorized | Refused | None
    note: str | None = None
    input_ended: bool = False  # the paste prompt's input closed


class MalformedRequest(Exception):
    """A request head that is not HTTP/1.x as browsers send it."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names


def parse_request_head(head: bytes) -> Request:
    """The request line and headers of one HTTP/1.x request head (the bytes before the
    blank line). Raises MalformedRequest; never anything else."""
    # ISO-8859-1 maps every byte, so decoding cannot fail (as http.server reads heads).
    lines = head.decode("iso-8859-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise MalformedRequest(HTTPStatus.BAD_REQUEST)
    method, target, _version = parts
    if not method.isascii() or not method.isalpha():
        raise MalformedRequest(HTTPStatus.BAD_REQUEST)
    if target.startswith(("http://", "https://")):  # absolute-form (RFC 9112 section 3.2.2)
        slash = target.find("/", target.index("//") + 2)
        target = target[slash:] if slash >= 0 else "/"
    if not target.startswith("/"):
        raise MalformedRequest(HTTPStatus.BAD_REQUEST)
    path, _, query = target.partition("#")[0].partition("?")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        # Obsolete line folding and names with spaces are how request smuggling starts
        # (RFC 9112 sections 5.1 and 5.2): refuse rather than guess.
        if not colon or not name or name != name.strip() or " " in name or "\t" in name:
            raise MalformedRequest(HTTPStatus.BAD_REQUEST)
        key = name.lower()
        if key in headers:
            if key == "host":  # two Host headers: which one did the browser mean?
                raise MalformedRequest(HTTPStatus.BAD_REQUEST)
            if key == "cookie":
                headers[key] += "; " + value.strip()
            continue
        headers[key] = value.strip()
    return Request(method, path, query, headers)


@dataclass
class Reply:
    """A response to send, and what to tell the waiting login once it has been sent."""

    status: HTTPStatus
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    events: list[ListenerEvent] = field(default_factory=list)

    def encode(self, *, head_only: bool = False) -> bytes:
        lines = [f"HTTP/1.1 {self.status.value} {self.status.phrase}"]
        headers = {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Length": str(len(self.body)),
            # One request per connection: a keep-alive connection would hold the
            # selector's attention for nothing, and browsers reconnect at once.
            "Connection": "close",
            **pages.SECURITY_HEADERS,
            **self.headers,
        }
        lines += [f"{name}: {value}" for name, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def _page(status: HTTPStatus, body: bytes, **extra: str) -> Reply:
    return Reply(status, body, dict(extra))


def _normalise_host(host: str, port: int, tls: bool) -> set[str]:
    default = 443 if tls else 80
    names = {f"{host}:{port}".lower()}
    if port == default:
        names.add(host.lower())
    return names


class _Connection:
    """One client connection: read a request head, write one reply, linger, close."""

    def __init__(self, sock: socket.socket, deadline: float, tls: bool) -> None:
        self.sock = sock
        self.opened = time.monotonic()
        self.deadline = deadline
        self.phase = "handshake" if tls else "read"
        self.inbox = bytearray()
        self.outbox = b""
        self.events: list[ListenerEvent] = []


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
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if not bind_address.startswith("127."):
            raise ValueError("the listener binds loopback addresses only")
        self.expected = expected
        self.path = path or "/"
        self.events: queue.Queue[ListenerEvent] = events or queue.Queue()
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._bind = (bind_address, port)
        self._tls = tls
        self._host_name = host_name
        self._claimed = False
        self._claim_lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._address: tuple[str, int] | None = None
        self._selector: selectors.BaseSelector | None = None
        self._connections: dict[int, _Connection] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.allowed_hosts: set[str] = set()
        self.consent_url: str | None = None  # where the start address sends the browser
        self.binding: BrowserBinding | None = None  # made by start(), once the port is known

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (the port the system chose, for port 0); set by start()."""
        assert self._address is not None, "start() the listener first"
        return self._address

    def start(self) -> CallbackListener:
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # As http.server does: a port left in TIME_WAIT by the last login is free.
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listening.bind(self._bind)
            listening.listen(128)
        except OSError as exc:
            listening.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise LoginIncomplete(
                    f"port {self._bind[1]} on {self._bind[0]} is already in use "
                    "(another spconnect login, or another program)",
                    "choose another with --port N (and use the same port in the relay page, "
                    "or let the port travel in state as it does by default)",
                ) from None
            raise
        listening.setblocking(False)
        self._socket = listening
        host, port = listening.getsockname()[:2]
        self._address = (str(host), int(port))
        self._selector = selectors.DefaultSelector()
        self._selector.register(listening, selectors.EVENT_READ)
        names = {self._host_name}
        if self._host_name == LOOPBACK:
            names.add("localhost")
        self.allowed_hosts = set().union(
            *(_normalise_host(n, self.port, self._tls is not None) for n in names)
        )
        self.binding = BrowserBinding(self.port, path=self.path, secure=self._tls is not None)
        self._thread = threading.Thread(target=self._serve, name="spconnect-listener", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        """The callback address, under the name the browser must use (cookies are kept
        per host name: the relay page sends the browser to 127.0.0.1, never localhost)."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self._host_name}:{self.port}{self.path}"

    def begin(self, expected: ExpectedAnswer, consent_url: str) -> None:
        """What to wait for, and where start addresses lead (known once the port is)."""
        self.expected = expected
        self.consent_url = consent_url

    def start_address(self) -> str:
        """A new single-use address that binds the browser opening it to this login and
        sends it on to Amazon's consent page (binding.py)."""
        assert self.binding is not None and self.consent_url, "start() and begin() first"
        return f"{self.url}?{START_PARAMETER}={self.binding.new_start_token()}"

    def claim(self) -> bool:
        """The first final answer (code or refusal) wins; state is single-use."""
        with self._claim_lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            # A short poll (0.05 s): stop(), and with it the exchange of the code, waits.
            thread.join(5)
        for connection in list(self._connections.values()):
            self._close(connection)
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    # What a request means: parse, decide, encode. The events go out only once the reply
    # has been sent (the person sees the page first; design, "The listener").

    def respond(self, head: bytes) -> tuple[bytes, list[ListenerEvent]]:
        """The bytes to send for one request head, and the events to emit once they are
        sent. Never raises: whatever arrives gets a page and the listener keeps waiting."""
        head_only = head.startswith(b"HEAD ")
        try:
            try:
                request = parse_request_head(head)
            except MalformedRequest as exc:
                return _page(exc.status, pages.bad_request_page()).encode(), []
            reply = self._route(request)
            return reply.encode(head_only=head_only), reply.events
        except Exception as exc:
            # A bug here must neither end the listener nor print a traceback (which could
            # carry the request); the login keeps waiting for a good request.
            log.debug("listener: could not answer a request (%s)", type(exc).__name__)
            return _page(HTTPStatus.BAD_REQUEST, pages.bad_request_page()).encode(), []

    def _route(self, request: Request) -> Reply:
        log.debug("listener: %s %s", request.method, request.path)
        if request.path != self.path:
            return _page(HTTPStatus.NOT_FOUND, pages.not_found_page())
        if request.method not in ("GET", "HEAD"):
            # OPTIONS included: no preflight is ever needed (see the module docstring).
            return _page(HTTPStatus.METHOD_NOT_ALLOWED, pages.not_found_page(), Allow="GET, HEAD")
        host = request.headers.get("host", "").lower()
        if host not in self.allowed_hosts:
            reply = _page(
                HTTPStatus.BAD_REQUEST,
                pages.failure_page("Unexpected Host header.", "Use the address spconnect printed."),
            )
            reply.events.append(
                ListenerEvent(None, "ignored a request with an unexpected Host header")
            )
            return reply
        params = dict(parse_qsl(request.query, keep_blank_values=False))
        cookie = request.headers.get("cookie", "")
        if START_PARAMETER in params:
            return self._start(params[START_PARAMETER], cookie)
        is_hop = "amazon_callback_uri" in params and "amazon_state" in params
        if is_hop and not (self.binding is not None and self.binding.recognises(cookie)):
            # Decided before the hop is even read: its redirect would carry state. Not a
            # note in the terminal either: the page tells the person what to do.
            return _page(HTTPStatus.FORBIDDEN, pages.hop_refused_page())
        verdict = interpret(params, self.expected)
        if isinstance(verdict, Empty):
            return _page(HTTPStatus.OK, pages.waiting_page())
        if isinstance(verdict, Hop):
            reply = Reply(HTTPStatus.FOUND, headers={"Location": verdict.target})
            reply.events.append(
                ListenerEvent(
                    None, "Login URI visited; sent the browser on to Amazon's consent page"
                )
            )
            return reply
        if isinstance(verdict, Foreign):
            reply = _page(HTTPStatus.BAD_REQUEST, pages.wrong_state_page())
            reply.events.append(
                ListenerEvent(None, f"ignored an answer that is not this login's: {verdict.reason}")
            )
            return reply
        if not self.claim():
            # A final answer already arrived: state is single-use.
            finished = pages.failure_page(
                "This login has already finished.", "Look at your terminal."
            )
            return _page(HTTPStatus.BAD_REQUEST, finished)
        if isinstance(verdict, Authorized):
            reply = _page(HTTPStatus.OK, pages.success_page(verdict.selling_partner_id))
        else:
            assert isinstance(verdict, Refused)
            reply = _page(
                HTTPStatus.BAD_REQUEST, pages.failure_page(verdict.reason, verdict.advice)
            )
        reply.events.append(ListenerEvent(verdict))
        return reply

    def _start(self, token: str, cookie: str) -> Reply:
        """The start address: the cookie, then on to Amazon (binding.py)."""
        use = StartUse.UNKNOWN
        if self.binding is not None and self.consent_url:
            use = self.binding.use_start_token(token, cookie)
        if use in (StartUse.FIRST, StartUse.AGAIN):
            assert self.binding is not None and self.consent_url
            return Reply(
                HTTPStatus.FOUND,
                headers={"Location": self.consent_url, "Set-Cookie": self.binding.set_cookie()},
            )
        if use is StartUse.UNKNOWN:
            return _page(HTTPStatus.BAD_REQUEST, pages.unknown_start_page())
        # Replayed by a client without the cookie: whoever opened it first received the
        # consent URL, state included. Racing them is not safe; ending the login is.
        if not self.claim():
            finished = pages.failure_page(
                "This login has already finished.", "Look at your terminal."
            )
            return _page(HTTPStatus.BAD_REQUEST, finished)
        refusal = Refused(
            "the login's single-use start address was opened a second time, by another "
            "browser or program; the login stopped because the other one may not be yours "
            "(other users of this computer can see the address a browser is started with)",
            "nothing was stored; run the login again and open its address in one browser only",
        )
        reply = _page(HTTPStatus.FORBIDDEN, pages.failure_page(refusal.reason, refusal.advice))
        reply.events.append(ListenerEvent(refusal))
        return reply

    # The connections: one thread, one selector, no per-connection thread.

    def _serve(self) -> None:
        while not self._stopping.is_set():
            selector = self._selector
            if selector is None:
                return
            try:
                ready = selector.select(timeout=0.05)
            except (OSError, ValueError):  # closed under us by stop()
                return
            for key, _mask in ready:
                if key.fileobj is self._socket:
                    self._accept()
                else:
                    connection = self._connections.get(key.fd)
                    if connection is not None:
                        self._service(connection)
            self._expire(time.monotonic())

    def _accept(self) -> None:
        assert self._socket is not None and self._selector is not None
        while True:
            try:
                sock, _ = self._socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # Out of file descriptors: give up the oldest connection, not the login.
                log.debug("listener: accept failed (%s)", exc.strerror)
                self._drop_oldest()
                return
            if len(self._connections) >= self.max_connections:
                self._drop_oldest()
            sock.setblocking(False)
            if self._tls is not None:
                # The handshake happens in the loop, step by step: a client that connects
                # and never speaks TLS costs one idle connection, nothing more.
                sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            connection = _Connection(
                sock, time.monotonic() + self.idle_timeout, self._tls is not None
            )
            self._connections[sock.fileno()] = connection
            self._selector.register(sock, selectors.EVENT_READ)

    def _service(self, connection: _Connection) -> None:
        try:
            want = self._advance(connection)
        except (OSError, ValueError):  # reset by the peer, TLS alert, and the like
            want = None
        if want is None:
            self._close(connection)
        elif self._selector is not None:
            self._selector.modify(connection.sock, want)

    def _advance(self, connection: _Connection) -> int | None:
        """Move one connection on as far as it can go without blocking; the selector event
        it waits for next, or None when it is done."""
        sock = connection.sock
        if connection.phase == "handshake":
            assert isinstance(sock, ssl.SSLSocket)
            try:
                sock.do_handshake()
            except ssl.SSLWantReadError:
                return selectors.EVENT_READ
            except ssl.SSLWantWriteError:
                return selectors.EVENT_WRITE
            connection.phase = "read"
        if connection.phase == "read":
            while True:
                try:
                    chunk = sock.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError):
                    return selectors.EVENT_READ
                except ssl.SSLWantWriteError:
                    return selectors.EVENT_WRITE
                if not chunk:
                    return None  # the client left before asking anything
                connection.inbox += chunk
                if self._head_complete(connection):
                    break
        if connection.phase == "write":
            while connection.outbox:
                try:
                    sent = sock.send(connection.outbox)
                except (BlockingIOError, ssl.SSLWantWriteError):
                    return selectors.EVENT_WRITE
                except ssl.SSLWantReadError:
                    return selectors.EVENT_READ
                connection.outbox = connection.outbox[sent:]
            # Sent: now the login may act on it (and stop the listener).
            for event in connection.events:
                self.events.put(event)
            connection.events = []
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                return None
            # Keep reading (and discarding) for a moment: closing a socket with unread
            # data sends a reset, which can destroy the reply before the client reads it
            # (a 1 MB request that got its 414 after 16 KB, say).
            connection.phase = "linger"
            connection.deadline = time.monotonic() + LINGER_TIMEOUT
        if connection.phase == "linger":
            while True:
                try:
                    if not sock.recv(65536):
                        return None
                except (BlockingIOError, ssl.SSLWantReadError):
                    return selectors.EVENT_READ
        return None

    def _head_complete(self, connection: _Connection) -> bool:
        """Whether the request head is in; if so the reply is ready in ``outbox``."""
        data = bytes(connection.inbox)
        end = min(
            (i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := data.find(sep)) >= 0),
            default=-1,
        )
        if end < 0 and len(data) <= MAX_HEAD_BYTES:
            return False
        if end < 0 or end > MAX_HEAD_BYTES:
            first_line_done = b"\n" in data[:MAX_HEAD_BYTES]
            status = (
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                if first_line_done
                else HTTPStatus.REQUEST_URI_TOO_LONG
            )
            connection.outbox, connection.events = (
                _page(status, pages.bad_request_page()).encode(),
                [],
            )
        else:
            connection.outbox, connection.events = self.respond(data[:end])
        connection.inbox.clear()
        connection.phase = "write"
        connection.deadline = time.monotonic() + self.idle_timeout
        return True

    def _expire(self, now: float) -> None:
        for connection in [c for c in self._connections.values() if c.deadline <= now]:
            self._close(connection)

    def _drop_oldest(self) -> None:
        if self._connections:
            self._close(min(self._connections.values(), key=lambda c: c.opened))

    def _close(self, connection: _Connection) -> None:
        # A verdict whose page could not be delivered still counts: the answer was valid.
        for event in connection.events:
            self.events.put(event)
        connection.events = []
        fd = connection.sock.fileno()
        self._connections.pop(fd, None)
        if self._selector is not None and fd >= 0:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(connection.sock)
        connection.sock.close()


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
