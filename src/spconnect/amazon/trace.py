"""One line on stderr per HTTP request, for ``-v`` and ``SPCONNECT_DEBUG=1`` (issue 9,
item 13; design, "Environment").

A line names the method, host and path, the status (or why there was none), the time
and Amazon's ``x-amzn-RequestId``, the value support asks for:

    spconnect: HTTP POST api.amazon.com/auth/o2/token -> 200 in 231 ms (x-amzn-RequestId 5f0c…)

Never a query string: a consent answer carries the authorization code and ``state``
there, and SP-API queries can carry buyer data. Never headers or bodies: tokens and
secrets travel in them. The line then goes through the logging channel that ``-v``
shows, whose filter masks secrets (redaction.py), as a second guard.

``record`` is the one call: amazon/bounded.py makes it for every request it sends (LWA,
the Sellers API, doctor's clock check); code that sends requests another way calls it
too. Standard library only, so any module can import it.
"""

from __future__ import annotations

import logging
import os
import sys
from urllib.parse import urlsplit

from spconnect.redaction import RedactingFilter, one_line

log = logging.getLogger("spconnect.http")


def requested_by_environment() -> bool:
    """``SPCONNECT_DEBUG`` set to anything but empty, 0, false or no."""
    value = os.environ.get("SPCONNECT_DEBUG", "").strip().lower()
    return value not in ("", "0", "false", "no")


def show_on_stderr() -> None:
    """Show spconnect's log records (traces included) on stderr, through the redaction
    filter; what ``-v`` and ``SPCONNECT_DEBUG=1`` switch on. Idempotent."""
    logger = logging.getLogger("spconnect")
    if any(getattr(h, "spconnect_stderr", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.spconnect_stderr = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("spconnect: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def where(url: object) -> str:
    """``host[:port]/path`` of ``url``: no scheme, user info, query or fragment."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an address that cannot be parsed)"
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    return f"{host}{f':{port}' if port else ''}{parts.path or '/'}"


def record(
    method: str,
    url: object,
    *,
    seconds: float,
    status: int | None = None,
    request_id: str | None = None,
    failure: str | None = None,
) -> None:
    """Trace one request: its ``status`` or, when no answer came, its ``failure``."""
    if not log.isEnabledFor(logging.INFO):
        return
    outcome = str(status) if status is not None else f"no answer ({failure or 'failed'})"
    rid = f" (x-amzn-RequestId {one_line(request_id, 80)})" if request_id else ""
    log.info(
        "HTTP %s %s -> %s in %d ms%s",
        one_line(method, 16),
        one_line(where(url), 300),
        outcome,
        round(seconds * 1000),
        rid,
    )
