"""A TLS-terminating reverse proxy for the browser tests: the Caddy or nginx of
docs/serve.md, section 6, small enough to read.

It accepts TLS on 127.0.0.1 with a self-signed certificate for the public host name
(made with ``cryptography``, as local https mode makes one), reads one request per
connection, and forwards it as plain http to the invite server's loopback port, as the
snippets in docs/serve.md do:

- ``Host`` kept as the browser sent it;
- ``X-Forwarded-Proto: https`` and ``X-Forwarded-For: <peer address>`` set by the proxy,
  replacing whatever the client sent under those names (nginx's ``proxy_set_header``);
- hop-by-hop headers dropped and ``Connection: close`` on both sides (one request per
  connection, which browsers handle like any server that closes);
- bounded: request head 32 KiB (431 beyond; the server's own cap, 16 KiB, is below it),
  body 64 KiB by ``Content-Length`` (413; chunked request bodies are refused with 411),
  a timeout on every read, write and connect (the handshake included), so a client that
  trickles its request is the proxy's to drop, as docs/serve.md asks of a terminator;
- no log of query strings: ``exchanges`` records method, path and status only.

It runs an asyncio loop in a thread. ``upstream`` may change while it runs (one proxy,
and so one browser, for a whole test module, in front of each test's server).
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from spconnect.consent.tls import Certificate

MAX_HEAD_BYTES = 32 * 1024
MAX_BODY_BYTES = 64 * 1024
IO_TIMEOUT = 10.0  # seconds for the handshake and each read or write from the client
UPSTREAM_TIMEOUT = 60.0  # the server may retry Amazon's token endpoint up to 30 s

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
     "upgrade", "proxy-authorization", "proxy-authenticate"}
)  # fmt: skip
_SET_BY_PROXY = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


def self_signed_certificate(host: str, cert_dir: Path) -> Certificate:
    """A self-signed certificate for ``host`` (PEM files), made by spconnect's own
    local-https code (consent/tls.py) under ``cert_dir``."""
    before = os.environ.get("SPCONNECT_CONFIG_DIR")
    os.environ["SPCONNECT_CONFIG_DIR"] = str(cert_dir)  # where tls.py keeps certificates
    try:
        from spconnect.consent import tls

        return tls.self_signed_certificate(host)
    finally:
        if before is None:
            del os.environ["SPCONNECT_CONFIG_DIR"]
        else:
            os.environ["SPCONNECT_CONFIG_DIR"] = before


def self_signed_context(host: str, cert_dir: Path) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for ``host``."""
    context = self_signed_certificate(host, cert_dir).server_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


@dataclass(frozen=True)
class Exchange:
    """One forwarded request, as a terminator's access log without query strings."""

    method: str
    path: str
    status: int


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n".encode()


class TlsTerminator:
    """The proxy described in the module docstring; a context manager."""

    def __init__(self, context: ssl.SSLContext, upstream: str = "") -> None:
        self.context = context
        self.upstream = upstream  # http://127.0.0.1:PORT of the invite server
        self.exchanges: list[Exchange] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> TlsTerminator:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(
            self._connection,
            "127.0.0.1",
            0,
            ssl=self.context,
            ssl_handshake_timeout=IO_TIMEOUT,
            limit=MAX_HEAD_BYTES,
        )

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername")[0])
        method, path, status = "-", "-", 0
        try:
            method, target, headers = await self._request_head(reader)
            path = target.split("?", 1)[0]
            body = await self._request_body(reader, headers)
            status = await self._forward(writer, method, target, headers, body, peer)
        except _Refused as refusal:
            status = refusal.status
            await self._answer(writer, status)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client went away
        finally:
            if method != "-":
                self.exchanges.append(Exchange(method, path, status))
            writer.close()
            with suppress(OSError, ssl.SSLError, TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), IO_TIMEOUT)

    async def _request_head(
        self, reader: asyncio.StreamReader
    ) -> tuple[str, str, list[tuple[str, str]]]:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IO_TIMEOUT)
        except (asyncio.LimitOverrunError, ValueError):
            raise _Refused(431) from None
        except (TimeoutError, asyncio.TimeoutError):
            raise _Refused(408) from None
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if (
            len(parts) != 3
            or not _TOKEN.fullmatch(parts[0])
            or not parts[1].startswith("/")
            or parts[2] not in ("HTTP/1.1", "HTTP/1.0")
        ):
            raise _Refused(400)
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not _TOKEN.fullmatch(name):  # obsolete folding included
                raise _Refused(400)
            headers.append((name, value.strip()))
        if sum(1 for name, _ in headers if name.lower() == "host") != 1:
            raise _Refused(400)
        return parts[0], parts[1], headers

    async def _request_body(
        self, reader: asyncio.StreamReader, headers: list[tuple[str, str]]
    ) -> bytes:
        names = [name.lower() for name, _ in headers]
        if "transfer-encoding" in names:
            raise _Refused(411)
        lengths = {value for name, value in headers if name.lower() == "content-length"}
        if not lengths:
            return b""
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise _Refused(400)
        length = int(next(iter(lengths)))
        if length > MAX_BODY_BYTES:
            raise _Refused(413)
        try:
            return await asyncio.wait_for(reader.readexactly(length), IO_TIMEOUT)
        except (TimeoutError, asyncio.TimeoutError):
            raise _Refused(408) from None

    async def _forward(
        self,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        peer: str,
    ) -> int:
        named_in_connection = {
            token.strip().lower()
            for name, value in headers
            if name.lower() == "connection"
            for token in value.split(",")
        }
        kept = [
            (name, value)
            for name, value in headers
            if name.lower() not in _HOP_BY_HOP | _SET_BY_PROXY | named_in_connection
        ]
        kept += [
            ("X-Forwarded-For", peer),
            ("X-Forwarded-Proto", "https"),
            ("Connection", "close"),
        ]
        host, _, port = self.upstream.removeprefix("http://").partition(":")
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port), limit=MAX_HEAD_BYTES), IO_TIMEOUT
            )
        except (OSError, ValueError, TimeoutError, asyncio.TimeoutError):
            raise _Refused(502) from None
        try:
            head = f"{method} {target} HTTP/1.1\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in kept
            )
            try:
                up_writer.write(head.encode("latin-1") + b"\r\n" + body)
                await asyncio.wait_for(up_writer.drain(), IO_TIMEOUT)
                answer = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"), UPSTREAM_TIMEOUT)
            except (TimeoutError, asyncio.TimeoutError):
                raise _Refused(504) from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                raise _Refused(502) from None
            status_line, *answer_headers = answer[:-4].decode("latin-1").split("\r\n")
            status = status_line.split(" ")
            if len(status) < 2 or not status[1].isdigit():
                raise _Refused(502)
            sent = [
                line
                for line in answer_headers
                if line.partition(":")[0].strip().lower() not in ("connection", "keep-alive")
            ]
            writer.write(
                (status_line + "\r\n" + "".join(f"{line}\r\n" for line in sent)).encode("latin-1")
                + b"Connection: close\r\n\r\n"
            )
            # The rest as it comes: the server closes after its answer (Connection: close).
            # A stall now can only end the connection: the status line has gone out.
            try:
                while chunk := await asyncio.wait_for(up_reader.read(64 * 1024), UPSTREAM_TIMEOUT):
                    writer.write(chunk)
                    await asyncio.wait_for(writer.drain(), IO_TIMEOUT)
            except (TimeoutError, asyncio.TimeoutError, OSError):
                pass
            return int(status[1])
        finally:
            up_writer.close()

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int) -> None:
        """The proxy's own refusal (an empty body), as a terminator answers on its own."""
        try:
            writer.write(_status_line(status) + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            await asyncio.wait_for(writer.drain(), IO_TIMEOUT)
        except (OSError, ssl.SSLError, TimeoutError, asyncio.TimeoutError):
            pass
