"""Running the invite server: uvicorn configured for a place behind a TLS terminator,
logging that cannot carry a secret, and a thread runner for tests and benchmarks.

- uvicorn's own access log is off: it prints the query string, where Amazon's code and
  the state travel. The guard (app.py) logs paths only, and every log line goes through
  the redaction filter (redaction.py) as a second guard.
- ``proxy_headers`` with ``forwarded_allow_ips``: ``X-Forwarded-For`` and
  ``X-Forwarded-Proto`` are believed only from the terminator's address (loopback by
  default), so a client cannot choose its own rate-limit bucket.
- h11 with a 16 KiB request-head cap, no ``Server`` header, bounded keep-alive and
  concurrency.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable

import uvicorn

from spconnect.amazon.lwa import LwaClient
from spconnect.amazon.marketplaces import Marketplace
from spconnect.errors import UsageError
from spconnect.redaction import RedactingFilter
from spconnect.serve.admin import AdminApi
from spconnect.serve.app import Guard, create_app
from spconnect.serve.flow import InviteService
from spconnect.serve.ratelimit import RateLimiter
from spconnect.serve.settings import ServeSettings
from spconnect.serve.storage import Storage

DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"
MAX_HEAD_BYTES = 16 * 1024
MAX_CONCURRENT_CONNECTIONS = 1000


def build_app(
    settings: ServeSettings,
    storage: Storage,
    client_secret: str,
    *,
    lwa: LwaClient | None = None,
    open_enrollment_marketplace: Marketplace | None = None,
    clock: Callable[[], float] = time.time,
) -> Guard:
    service = InviteService(
        settings,
        storage,
        lwa or LwaClient(),
        client_secret,
        open_enrollment_marketplace=open_enrollment_marketplace,
        clock=clock,
    )
    limiter = RateLimiter(settings.rate_limit) if settings.rate_limit > 0 else None
    return create_app(service, AdminApi(settings, storage, clock), limiter=limiter)


def configure_logging(*, verbose: bool = False) -> None:
    """spconnect's and uvicorn's log records on stderr, through the redaction filter
    (debug records too with ``verbose``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("spconnect serve: %(levelname)s %(message)s"))
    for name in ("spconnect", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
        logger.propagate = False
    # Never configured by this process: uvicorn's access logger (query strings).
    logging.getLogger("uvicorn.access").disabled = True


def uvicorn_config(app: Guard, *, forwarded_allow_ips: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http="h11",
        loop="asyncio",
        lifespan="off",
        log_config=None,  # configure_logging's handler, not uvicorn's
        access_log=False,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        limit_concurrency=MAX_CONCURRENT_CONNECTIONS,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); UsageError naming --port when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as exc:
        listening.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise UsageError(
                f"cannot listen on {host} port {port}: {exc.strerror}",
                "choose another with --port N (and point the TLS terminator at it)",
            ) from None
        raise UsageError(f"cannot listen on {host} port {port}: {exc.strerror}") from None
    listening.set_inheritable(True)
    return listening


def serve_forever(app: Guard, listening: socket.socket, *, forwarded_allow_ips: str) -> None:
    """Answer until SIGTERM or Ctrl-C (uvicorn finishes open requests first)."""
    server = uvicorn.Server(uvicorn_config(app, forwarded_allow_ips=forwarded_allow_ips))
    server.run(sockets=[listening])


class ServerThread:
    """The server on a free loopback port in a thread: for tests and benchmarks."""

    def __init__(self, app: Guard, *, forwarded_allow_ips: str = DEFAULT_FORWARDED_ALLOW_IPS):
        self._socket = bind("127.0.0.1", 0)
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn_config(app, forwarded_allow_ips=forwarded_allow_ips))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the invite server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()
