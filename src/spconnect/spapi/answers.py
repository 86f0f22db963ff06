"""One SP-API exchange within bounds, and what its answer says (amazon.md section 9).

``exchange`` sends one request through ``amazon/bounded.fetch``, the bounded read LWA and
the Sellers API use too: a watchdog cuts a server that trickles its headers or its body
at the deadline, and the body is capped, a gzip bomb included (issue 8, section 5). An
answer cut at the cap is refused (AnswerTooLarge) rather than shown in part.

Text taken from an answer for a message (Amazon's error codes and messages, the request
id) goes through ``redaction.one_line``: control characters out, secrets masked, length
capped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cached_property

import httpx

from spconnect.amazon import bounded
from spconnect.amazon.bounded import DeadlineExceeded
from spconnect.redaction import one_line
from spconnect.spapi.request import ApiRequest

__all__ = [
    "MAX_ANSWER_BYTES",
    "Answer",
    "AnswerTooLarge",
    "DeadlineExceeded",
    "exchange",
    "refuses_restricted_token",
    "refuses_token",
    "refuses_token_in",
]

# A page of getOrders (100 orders) is a few hundred kilobytes; the largest SP-API answers
# (catalog items with every included data set) stay within a few megabytes.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class AnswerTooLarge(Exception):
    """The answer's body is longer than the limit, or undecodable."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reason(self) -> str:
        return httpx.codes.get_reason_phrase(self.status)

    @property
    def request_id(self) -> str:
        return one_line(self.headers.get("x-amzn-requestid", ""), 80) or "none"

    @cached_property
    def document(self) -> object:
        """The body as JSON, or None when it is not JSON (parsed once: pages are read for
        their next token and again for printing)."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep
            return None

    def head(self) -> str:
        """Status line and headers, for ``-i`` (gh api's layout). httpx speaks HTTP/1.1
        here (no HTTP/2 without the h2 package); the headers are as received."""
        lines = [f"HTTP/1.1 {self.status} {self.reason}".rstrip()]
        lines += [f"{n.decode('latin-1')}: {v.decode('latin-1')}" for n, v in self.headers.raw]
        return "\n".join(lines) + "\n\n"

    def summary(self) -> str:
        """``400 Bad Request: InvalidInput: ...`` with Amazon's own words, safe to show."""
        said = errors_text(self.document)
        status = f"{self.status} {self.reason}".rstrip()
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
            parts.append(": ".join(one_line(str(f), 200) for f in fields if f))
    return one_line("; ".join(p for p in parts if p), 500)


# What Amazon says when the access token itself is at fault, in an error's message or
# details (403 Unauthorized, "Access to requested resource is denied.", details "The access
# token you provided is revoked, malformed or invalid." or "... has expired."; Amazon's
# answers quoted in selling-partner-api-models issues 2333 and 2335).
_TOKEN_FAULTS = ("revoked", "malformed", "invalid", "expired")


def refuses_token(answer: Answer) -> bool:
    """Whether a 401/403 refuses the access token itself, not the call."""
    return refuses_token_in(answer.status, answer.document)


def refuses_restricted_token(answer: Answer) -> bool:
    """Whether a 401/403 to a request sent with a restricted data token refuses that token
    itself: in the words Amazon uses for access tokens, or naming the restricted data
    token (it travels in the same ``x-amz-access-token`` header, amazon.md section 9)."""
    return refuses_token_in(answer.status, answer.document, names=RESTRICTED_TOKEN_NAMES)


RESTRICTED_TOKEN_NAMES = ("access token", "restricted data token")


def refuses_token_in(
    status: int, document: object, *, names: tuple[str, ...] = ("access token",)
) -> bool:
    """``refuses_token`` for a status and a parsed body (the integrations' answers)."""
    if status not in (401, 403) or not isinstance(document, dict):
        return False
    errors = document.get("errors")
    for error in errors if isinstance(errors, list) else ():
        if isinstance(error, dict):
            text = f"{error.get('message')} {error.get('details')}".lower()
            if any(name in text for name in names) and any(f in text for f in _TOKEN_FAULTS):
                return True
    return False


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
    """Send ``request``; raise DeadlineExceeded, AnswerTooLarge or httpx's errors.

    ``client`` must not keep connections alive (``bounded.NO_KEEPALIVE``), so that the
    watchdog sees each request's connection."""
    started = time.monotonic()
    answer = bounded.fetch(
        client,
        request.method,
        endpoint + request.path,
        deadline=deadline,
        timeout=timeout,
        limit=limit,
        params=list(request.query),
        content=request.body,
        headers={"accept-encoding": bounded.ACCEPT_ENCODING, **headers, **dict(request.headers)},
    )
    if answer.problem is not None:
        raise AnswerTooLarge(answer.problem)
    elapsed = time.monotonic() - started
    return Answer(answer.status_code, answer.headers, answer.content, elapsed)
