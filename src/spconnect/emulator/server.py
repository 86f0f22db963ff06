"""The emulator's HTTP server: a real server on 127.0.0.1 (ephemeral port by default).

Tests run it in-process and point spconnect at it with ``SPCONNECT_LWA_URL`` (and, as
the other parts arrive, ``SPCONNECT_CENTRAL_URL`` and ``SPCONNECT_SPAPI_URL``); nothing in
spconnect knows it is talking to an emulator.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, quote, urlsplit

from spconnect.emulator import central, orders, rdt, sellers, throttle
from spconnect.emulator.lwa import token_endpoint
from spconnect.emulator.state import EmulatorState, Fault

TOKEN_PATH = "/auth/o2/token"
MAX_BODY_BYTES = 64 * 1024

_HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    b"<body><h1>Service Unavailable</h1><p>Please try again later.</p></body></html>"
)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header follows the emulator's clock, so tests can make it disagree with
        # this machine's (clock-skew reports, `spconnect doctor`).
        now = self.server.emulator.state.now() if timestamp is None else timestamp
        return super().date_time_string(now)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", secrets.token_hex(16))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(
        self, status: int, body: dict[str, object], headers: dict[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(body).encode(), "application/json;charset=UTF-8", headers)

    def _apply_fault(self, fault: Fault | None, echo: str = "", rate: float | None = None) -> bool:
        """Act out an injected fault; True when it replaced the answer.

        Errors take the endpoint's format: LWA's ``error``/``error_description`` for
        "token", the SP-API's ``errors`` list (amazon.md section 9) for the SP-API
        operations, whose 429 also carries ``rate`` as ``x-amzn-RateLimit-Limit``, as if
        another program had drained the bucket. ``echo`` is the request's text that
        ``echo_request`` puts into the message, as some gateways do.
        """
        if fault is None or fault.kind == "grant":
            return False
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        if fault.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if fault.kind == "html":
            page = _HTML_ERROR_PAGE if fault.body is None else fault.body.encode()
            self._send(fault.status, page, "text/html")
            return True
        lwa = fault.endpoint == "token"
        headers: dict[str, str] = {}
        if fault.kind == "rate_limit":
            status = 429
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            if rate is not None:
                headers.update(throttle.Quota(False, rate).header)
        else:
            status = fault.status
        description = fault.description or (
            "Rate exceeded" if status == 429 else "Injected failure"
        )
        if fault.echo_request:
            description += f" (request: {echo})"
        if lwa:
            default = {429: "TooManyRequests"}.get(
                status, "server_error" if status >= 500 else "temporarily_unavailable"
            )
            body: dict[str, object] = {
                "error": fault.error or default,
                "error_description": description,
            }
        else:
            default = {429: "QuotaExceeded"}.get(
                status, "InternalFailure" if status >= 500 else "InvalidInput"
            )
            body = rdt.error(status, fault.error or default, description).body
        self._send_json(status, body, headers)
        return True

    def _send_page(self, page: central.Page) -> None:
        headers = dict(page.headers)
        if page.location:
            headers["Location"] = page.location
        self._send(page.status, page.body.encode(), "text/html; charset=utf-8", headers)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send_json(413, {"error": "invalid_request"})
            return
        body = self.rfile.read(length)
        if path == central.DECIDE_PATH:
            form = dict(parse_qsl(body.decode(errors="replace")))
            self._send_page(central.decide(self.server.emulator.state, form))
            return
        if path in (central.REAUTHORIZE_PATH, central.AUTHORIZE_NOW_PATH):
            form = dict(parse_qsl(body.decode(errors="replace")))
            start = (
                central.reauthorize if path == central.REAUTHORIZE_PATH else central.authorize_now
            )
            self._send_page(start(self.server.emulator.state, form, self.server.emulator.url))
            return
        if path == TOKEN_PATH:
            self.server.emulator.state.count("token_requests")
            fault = self.server.emulator.state.take_fault("token")
            # The form body as sent: URL-encoded, secrets included.
            if self._apply_fault(fault, echo=body.decode(errors="replace")):
                return
            answer = token_endpoint(
                self.server.emulator.state, self.headers.get("Content-Type", ""), body
            )
            if fault is not None and fault.kind == "grant" and answer.status == 200:
                for key, value in (fault.patch or {}).items():
                    if value is None:
                        answer.body.pop(key, None)
                    else:
                        answer.body[key] = value
            self._send_json(answer.status, answer.body)
            return

        if path == rdt.PATH:
            token = self.headers.get("x-amz-access-token", "")
            if self._apply_spapi_fault("tokens", token, "createRestrictedDataToken"):
                return
            issued = rdt.create_restricted_data_token(self.server.emulator.state, token, body)
            self._send_json(issued.status, issued.body, issued.headers)
            return
        self._send_json(404, {"error": "not_found"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        state = self.server.emulator.state
        if parts.path == central.CONSENT_PATH:
            state.count("consent_page")
            self._send_page(central.consent(state, params, self.server.emulator.url))
        elif parts.path == sellers.PATH:
            token = self.headers.get("x-amz-access-token", "")
            if self._apply_spapi_fault("sellers", token, rate=sellers.RATE_PER_SECOND):
                return
            answer = sellers.marketplace_participations(state, token)
            self._send_json(answer.status, answer.body, answer.headers)
        elif parts.path == central.MANAGE_PATH:
            self._send_page(central.manage_your_apps(state))
        elif parts.path.startswith(central.APPSTORE_PREFIX):
            app_id = parts.path[len(central.APPSTORE_PREFIX) :]
            self._send_page(central.appstore_page(state, app_id))
        elif parts.path.startswith(central.CONFIRM_PREFIX):
            app_id = parts.path[len(central.CONFIRM_PREFIX) :]
            self._send_page(central.confirm(state, app_id, params))
        elif orders.handles(parts.path):
            token = self.headers.get("x-amz-access-token", "")
            if self._apply_spapi_fault("orders", token, orders.operation(parts.path)):
                return
            answer = orders.get(state, parts.path, params, token)
            self._send_json(answer.status, answer.body, answer.headers)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def _apply_spapi_fault(
        self, endpoint: str, token: str, operation: str | None = None, rate: float | None = None
    ) -> bool:
        """``_apply_fault`` for an SP-API operation: the 429's rate is the operation's."""
        if operation is not None:
            rate = throttle.plan(self.server.emulator.state, operation)[0]
        fault = self.server.emulator.state.take_fault(endpoint)
        return self._apply_fault(fault, echo=f"access_token={quote(token)}", rate=rate)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Fifty clients at once must not be refused by a short listen queue.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class Emulator:
    """The built-in Amazon emulator. Use as a context manager or start()/stop()."""

    def __init__(
        self, *, port: int = 0, access_token_lifetime: int = 3600, verbose: bool = False
    ) -> None:
        self.state = EmulatorState(access_token_lifetime=access_token_lifetime)
        self.verbose = verbose
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    def start(self) -> Emulator:
        # Loopback only: the emulator is for this machine's tests and demos.
        self._server = _Server(("127.0.0.1", self._port), self)
        # A short poll: stop() waits for the loop to notice, and every test stops one
        # (the default 0.5 s poll cost each test half a second at teardown).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="spconnect-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """The variables that point spconnect at this emulator."""
        return {
            "SPCONNECT_LWA_URL": self.token_url,
            "SPCONNECT_CENTRAL_URL": self.url,
            "SPCONNECT_SPAPI_URL": self.url,
        }

    # Conveniences for tests and the demo.
    def inject(self, kind: str, times: int = 1, **options: object) -> None:
        self.state.inject(Fault(kind=kind, times=times, **options))  # type: ignore[arg-type]

    def count(self, key: str) -> int:
        with self.state.lock:
            return self.state.counts[key]
