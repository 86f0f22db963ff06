"""Reading an HTTP answer within bounds: a hard deadline and a cap on the body.

httpx's timeouts apply to each network operation, not to the request: a server (or a
proxy) that sends one byte every few seconds never trips a read timeout and can hold a
token refresh, and the refresh lock around it, for as long as it likes; and a body of any
size is read whole into memory (issue 8, section 5). ``fetch`` bounds both:

- a watchdog thread shuts the request's socket down when the deadline passes, which ends
  a read blocked anywhere, in the headers or in the body. The sockets come from the
  ``trace`` request extension (documented by httpx and httpcore), so TLS and proxied
  connections are covered alike; keep-alive is off in the callers' clients, so every
  request opens a connection the watchdog sees;
- connect, read and write timeouts are clipped to the time left, and the deadline is
  checked between body chunks (all a transport without sockets, such as
  ``httpx.MockTransport``, gets);
- the body is read raw and decompressed here with a bound on the output, so neither a
  long body nor a small gzip bomb costs more than ``limit`` bytes of memory.

Every request is traced for ``-v`` and ``SPCONNECT_DEBUG=1`` (amazon/trace.py).

Name resolution runs inside ``getaddrinfo``, which Python cannot interrupt; it is bounded
by the system resolver's own timeouts (resolv.conf), as for every program.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any

import httpx

from spconnect.amazon import trace
from spconnect.redaction import one_line

# Only what fetch() can decode within bounds; httpx would otherwise also offer br and zstd
# when those packages happen to be installed.
ACCEPT_ENCODING = "gzip, deflate"
# No keep-alive: each request gets its own connection, which the watchdog can cut (a
# reused one would bring no connect event to the trace hook).
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


class DeadlineExceeded(Exception):
    """The answer did not arrive complete before the deadline."""


@dataclass(frozen=True)
class BoundedAnswer:
    status_code: int
    headers: httpx.Headers
    content: bytes  # at most ``limit`` bytes, decoded
    problem: str | None  # why content is not the whole body ("longer than ..."), or None
    received_at: float  # local wall clock when the status line and headers had arrived

    def json_object(self) -> dict[str, object] | None:
        """The body as a JSON object, or None (not JSON, not an object, or incomplete)."""
        if self.problem is not None:
            return None
        try:
            body = json.loads(self.content)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested
            return None  # deeper than Python's limit, which a 64 KiB answer can be
        return body if isinstance(body, dict) else None

    def first_line(self, limit: int = 160) -> str:
        """The first line of text of the page, safe to show: for HTML, of its text (the
        title, usually); control characters stripped, secrets masked, length capped."""
        text = self._head()
        if _looks_like_html(self.headers, text):
            text = _SCRIPT_OR_STYLE.sub(" ", text)
            import html  # only for an HTML error page

            text = html.unescape(_TAG.sub("\n", text))
        for line in text.splitlines():
            shown = one_line(line, limit)
            if shown:
                return shown
        return ""

    def _head(self) -> str:
        # The first line is near the start; working on a prefix keeps the copies that
        # decoding and cleaning make small, whatever the size of the body.
        return self.content[:_HEAD_BYTES].decode("utf-8", errors="replace")

    def describe(self) -> str:
        """What the body is, for an error message: "an HTML page: 'Access Denied'"."""
        line = self.first_line()
        if self.problem is not None:
            what = f"a body {self.problem}"
        elif not self.content.strip():
            return "an empty body"
        elif _looks_like_html(self.headers, self._head()):
            what = "an HTML page"
        else:
            what = "a non-JSON page" if self.json_object() is None else "a JSON body"
        return f"{what}: {line!r}" if line else what


_HEAD_BYTES = 8192
_TAG = re.compile(r"<[^>]*>")
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _looks_like_html(headers: httpx.Headers, text: str) -> bool:
    return "html" in headers.get("content-type", "").lower() or text.lstrip()[:1] == "<"


class _Watchdog:
    """Shuts down the sockets of one request when its deadline passes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: list[Any] = []
        self.fired = False

    def trace(self, event: str, info: dict[str, Any]) -> None:
        # httpcore reports each new network stream (TCP, then TLS over it) on completion.
        if not event.endswith(("connect_tcp.complete", "start_tls.complete")):
            return
        stream = info.get("return_value")
        if stream is None:
            return
        with self._lock:
            self._streams.append(stream)
            fired = self.fired
        if fired:
            _shut_down(stream)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            streams = list(self._streams)
        for stream in streams:
            _shut_down(stream)


def _shut_down(stream: Any) -> None:
    sock = stream.get_extra_info("socket")
    if sock is None:
        return
    # shutdown() wakes a recv() blocked in another thread (close() would not). The plain
    # socket method, because SSLSocket.shutdown also drops its TLS state under the reading
    # thread. OSError: the socket is closed already.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def fetch(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    deadline: float,
    timeout: float,
    limit: int,
    **request: Any,
) -> BoundedAnswer:
    """Send one request; return its answer with at most ``limit`` bytes of body.

    ``deadline`` is a ``time.monotonic()`` value; past it, DeadlineExceeded. ``timeout``
    is the usual per-operation timeout, clipped to the time left. Transport errors other
    than the deadline propagate as httpx exceptions.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded
    started = time.monotonic()
    try:
        answer = _fetch(client, method, url, deadline, timeout, limit, remaining, request)
    except DeadlineExceeded:
        trace.record(method, url, seconds=time.monotonic() - started, failure="deadline passed")
        raise
    except httpx.HTTPError as error:
        trace.record(method, url, seconds=time.monotonic() - started, failure=type(error).__name__)
        raise
    trace.record(
        method,
        url,
        seconds=time.monotonic() - started,
        status=answer.status_code,
        request_id=answer.headers.get("x-amzn-requestid")
        or answer.headers.get("x-amzn-request-id"),
    )
    return answer


def _fetch(
    client: httpx.Client,
    method: str,
    url: str,
    deadline: float,
    timeout: float,
    limit: int,
    remaining: float,
    request: dict[str, Any],
) -> BoundedAnswer:
    watchdog = _Watchdog()
    timer = threading.Timer(remaining, watchdog.fire)
    timer.daemon = True
    timer.start()
    try:
        with client.stream(
            method,
            url,
            timeout=httpx.Timeout(min(timeout, remaining)),
            extensions={"trace": watchdog.trace},
            **request,
        ) as response:
            received_at = time.time()
            content, problem = _read_body(response, limit, deadline)
    except httpx.HTTPError:
        if watchdog.fired or time.monotonic() >= deadline:
            raise DeadlineExceeded from None
        raise
    finally:
        timer.cancel()
    if watchdog.fired:
        # A body that ends at connection close would look complete after the shutdown.
        raise DeadlineExceeded
    return BoundedAnswer(response.status_code, response.headers, content, problem, received_at)


def _read_body(response: httpx.Response, limit: int, deadline: float) -> tuple[bytes, str | None]:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflater = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        # 32 + MAX_WBITS: accept a gzip or a zlib header, whichever comes.
        inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)
    elif encoding not in ("", "identity"):
        return b"", f"in an encoding spconnect did not ask for ({one_line(encoding, 40)})"
    body = bytearray()
    too_long = f"longer than {limit // 1024} KiB"
    for chunk in response.iter_raw():
        if time.monotonic() > deadline:
            raise DeadlineExceeded
        if inflater is None:
            body += chunk
        else:
            try:
                body += inflater.decompress(chunk, limit + 1 - len(body))
            except zlib.error:
                return bytes(body[:limit]), f"that is not valid {encoding}"
            if inflater.unconsumed_tail:
                return bytes(body[:limit]), too_long
        if len(body) > limit:
            return bytes(body[:limit]), too_long
    return bytes(body), None
