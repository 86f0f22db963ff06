"""One SP-API exchange within bounds, and what its answer says (amazon.md section 9).

``exchange`` sends one request and reads at most ``limit`` bytes of the answer, decoded
here with a bound on the output so that a small gzip bomb costs no more than a long body,
before a deadline that is checked between chunks and clips every per-operation timeout.
(The hardening branch's ``amazon/bounded.py`` adds a watchdog that also cuts a server
trickling its headers; once it is merged this module should read through it.)

Text taken from an answer for a message (Amazon's error codes and messages) is made safe
to show: control characters out, secrets masked, length capped.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass
from functools import cached_property

import httpx

from spconnect.redaction import redact
from spconnect.spapi.request import ApiRequest

# A page of getOrders (100 orders) is a few hundred kilobytes; the largest SP-API answers
# (catalog items with every included data set) stay within a few megabytes.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
# Only what _read_body decodes within bounds (httpx would add br and zstd when installed).
ACCEPT_ENCODING = "gzip, deflate"


class AnswerTooLarge(Exception):
    """The answer's body is longer than the limit, or undecodable."""


class DeadlineExceeded(Exception):
    """The answer did not arrive complete before the deadline."""


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    http_version: str
    headers: httpx.Headers
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    elapsed: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def request_id(self) -> str:
        return safe_text(self.headers.get("x-amzn-requestid", ""), 80) or "none"

    @cached_property
    def document(self) -> object:
        """The body as JSON, or None when it is not JSON (parsed once: pages are read for
        their next token and again for printing)."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    def head(self) -> str:
        """Status line and headers as received, for ``-i`` (gh api's layout)."""
        lines = [f"{self.http_version} {self.status} {self.reason}".rstrip()]
        lines += [f"{n.decode('latin-1')}: {v.decode('latin-1')}" for n, v in self.raw_headers]
        return "\n".join(lines) + "\n\n"

    def summary(self) -> str:
        """``400 Bad Request: InvalidInput: ...`` with Amazon's own words, safe to show."""
        said = errors_text(self.document)
        status = f"{self.status} {safe_text(self.reason, 40)}".rstrip()
        return f"{status}: {said}" if said else status


def errors_text(body: object) -> str:
    """The SP-API ``errors`` list (amazon.md section 9) as one safe line, or ''."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors[:5]:
        if isinstance(error, dict):
            fields = (error.get(k) for k in ("code", "message", "details"))
            parts.append(": ".join(safe_text(str(f), 200) for f in fields if f))
    return safe_text("; ".join(p for p in parts if p), 500)


def safe_text(text: str, limit: int) -> str:
    """One line of outside text for a message: no control characters, secrets masked."""
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    cleaned = redact(" ".join(cleaned.split()))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def exchange(
    client: httpx.Client,
    endpoint: str,
    request: ApiRequest,
    headers: dict[str, str],
    *,
    deadline: float,
    timeout: float,
    limit: int = MAX_ANSWER_BYTES,
) -> Answer:
    """Send ``request``; raise DeadlineExceeded, AnswerTooLarge or httpx's errors."""
    started = time.monotonic()
    remaining = deadline - started
    if remaining <= 0:
        raise DeadlineExceeded
    try:
        with client.stream(
            request.method,
            endpoint + request.path,
            params=list(request.query),
            content=request.body,
            headers={"accept-encoding": ACCEPT_ENCODING, **headers, **dict(request.headers)},
            timeout=httpx.Timeout(min(timeout, remaining)),
        ) as response:
            body = _read_body(response, limit, deadline)
    except httpx.TimeoutException:
        if time.monotonic() >= deadline:
            raise DeadlineExceeded from None
        raise
    return Answer(
        response.status_code,
        response.reason_phrase,
        response.http_version,
        response.headers,
        tuple(response.headers.raw),
        body,
        time.monotonic() - started,
    )


def _read_body(response: httpx.Response, limit: int, deadline: float) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflater = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # a gzip or a zlib header
    elif encoding not in ("", "identity"):
        raise AnswerTooLarge(
            f"in an encoding spconnect did not ask for ({safe_text(encoding, 40)})"
        )
    body = bytearray()
    for chunk in response.iter_raw():
        if time.monotonic() > deadline:
            raise DeadlineExceeded
        if inflater is None:
            body += chunk
        else:
            try:
                body += inflater.decompress(chunk, limit + 1 - len(body))
            except zlib.error:
                raise AnswerTooLarge(f"that is not valid {encoding}") from None
            if inflater.unconsumed_tail:
                raise AnswerTooLarge(f"longer than {_size(limit)}")
        if len(body) > limit:
            raise AnswerTooLarge(f"longer than {_size(limit)}")
    return bytes(body)


def _size(limit: int) -> str:
    return f"{limit // 1048576} MiB" if limit >= 1048576 else f"{limit // 1024} KiB"
