"""The Login with Amazon token endpoint (amazon.md section 5).

Three grants, form-encoded by httpx (Amazon's own JS helper once concatenated strings and
broke on '|'). Errors become the exceptions of errors.py with the design's exit codes.
Retries only where a retry can help: connection errors, timeouts, 5xx, 429 and the
``server_error``/``temporarily_unavailable`` answers, with exponential backoff, full
jitter, ``Retry-After`` honoured, and bounded attempts and total time. Never a 4xx: those
answers do not change on their own, and a code or refresh token must not be hammered.

Bounds (issue 8, section 5). Every attempt has an overall deadline (``deadline``, 20 s by
default), enforced even against a server that trickles bytes (amazon/bounded.py), and
reads at most 64 KiB of any answer. No attempt or backoff sleep runs past
``retry.max_total_seconds`` (30 s by default) from the start of the call, and attempts
are clipped to it. So a call returns or raises within

    min(max_total_seconds, max_attempts x deadline + (max_attempts - 1) x max_delay)

seconds, plus scheduling slack: 30 s with the defaults (4 x 20 + 3 x 8 = 104 s is the
bound without the total budget). A refresh therefore holds the profile's refresh lock far
less than the 90 s other processes wait for it (tokens.LOCK_TIMEOUT_SECONDS).

What comes back is checked before anyone sees it: a grant must carry a non-empty access
token of at most 2048 bytes of visible ASCII (amazon.md section 1; RFC 6749 appendix A.12
allows no control characters), token type bearer, a plausible lifetime, and for the
authorization-code grant a refresh token of the same shape; otherwise exit 6 and nothing
is stored. Text from an answer reaches a message only through ``one_line`` (control
characters stripped, secrets masked, length capped), and an answer that is not LWA's
JSON (a proxy's or firewall's HTML page) is a network problem, exit 6, not a bug.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from spconnect._version import user_agent
from spconnect.amazon import bounded, client_tls
from spconnect.amazon.endpoints import lwa_token_url
from spconnect.amazon.ids import MAX_TOKEN_BYTES
from spconnect.errors import (
    AmazonRequestRejected,
    AmazonUnavailable,
    AuthorizationRejected,
    ClientRejected,
    LoginIncomplete,
    SpconnectError,
)
from spconnect.names import is_visible_ascii
from spconnect.redaction import one_line, register_secret
from spconnect.store import envvars

log = logging.getLogger("spconnect.lwa")

SCOPE_NOTIFICATIONS = "sellingpartnerapi::notifications"
SCOPE_ROTATION = "sellingpartnerapi::client_credential:rotation"
GRANTLESS_SCOPES = {"notifications": SCOPE_NOTIFICATIONS, "rotation": SCOPE_ROTATION}
_RETRYABLE_ERRORS = {"server_error", "temporarily_unavailable"}
# An LWA answer holds two tokens of at most 2048 bytes each (amazon.md section 1) and a few
# short fields; Amazon's error bodies are smaller still. Anything longer is not LWA's.
MAX_ANSWER_BYTES = 64 * 1024
# Access tokens live one hour (amazon.md section 6). A lifetime beyond a day is not an LWA
# answer, and would keep a token in the cache long after Amazon stopped honouring it.
MAX_EXPIRES_IN = 24 * 3600


@dataclass(frozen=True)
class TokenGrant:
    """A successful answer from the token endpoint."""

    access_token: str
    expires_in: int
    obtained_at: float  # local clock when the answer arrived
    refresh_token: str | None
    token_type: str
    server_date: float | None  # the server's Date header, for clock-skew reports
    request_id: str | None

    @property
    def expires_at(self) -> float:
        return self.obtained_at + self.expires_in

    @property
    def clock_skew(self) -> float | None:
        """Seconds the local clock is ahead of Amazon's (None when no Date was sent)."""
        return None if self.server_date is None else self.obtained_at - self.server_date


@dataclass(frozen=True)
class FailureContext:
    """Names used in hints: which profile and app the request was for."""

    profile: str | None = None
    app: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    max_total_seconds: float = 30.0
    base_delay: float = 0.5
    max_delay: float = 8.0


class _Retryable(Exception):
    def __init__(self, detail: str, retry_after: float | None, request_id: str | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
        self.request_id = request_id


def _parse_retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _parse_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _request_id(headers: httpx.Headers, body: dict[str, object] | None) -> str | None:
    rid = headers.get("x-amzn-requestid") or headers.get("x-amzn-request-id")
    if not rid and body and isinstance(body.get("request_id"), str):
        rid = str(body["request_id"])
    # Shown in messages: a header or body value like any other, so made safe to show.
    return (one_line(rid, 80) or None) if rid else None


def _token_problem(value: object, what: str) -> str | None:
    """Why ``value`` is not a usable token, or None (amazon.md section 1)."""
    if value is None:
        return f"it has no {what}"
    if not isinstance(value, str):
        return f"its {what} is not a string"
    if not value:
        return f"its {what} is empty"
    if len(value.encode()) > MAX_TOKEN_BYTES:
        return f"its {what} is longer than {MAX_TOKEN_BYTES} bytes"
    # Visible ASCII (names.is_visible_ascii): RFC 6749 appendix A.12 allows VSCHAR in
    # tokens; a space, CR, LF or control character would break `--format header` output.
    if not is_visible_ascii(value):
        return f"its {what} contains spaces, control or non-ASCII characters"
    return None


def _expires_in(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or not 0 < value <= MAX_EXPIRES_IN:  # NaN, zero, negative, huge
        return None
    return int(value)


def _with_rid(text: str, request_id: str | None) -> str:
    return f"{text} (request id {request_id})" if request_id else text


class LwaClient:
    """Client for the LWA token endpoint. Construct once, call a grant method."""

    def __init__(
        self,
        token_url: str | None = None,
        *,
        timeout: float = 15.0,
        deadline: float = 20.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.token_url = token_url or lwa_token_url()
        self.timeout = timeout  # per network operation (connect, each read, each write)
        self.deadline = deadline  # per attempt, from the request to the last byte
        self.retry = retry or RetryPolicy()
        self._transport = transport
        self._sleep = sleep
        self._jitter = jitter
        self.last_server_date: float | None = None

    # -- the three grants -------------------------------------------------------------

    def refresh(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        context: FailureContext = FailureContext(),
    ) -> TokenGrant:
        register_secret(refresh_token)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        return self._post(form, context)

    def exchange_code(
        self,
        *,
        code: str,
        redirect_uri: str,
        client_id: str,
        client_secret: str,
        context: FailureContext = FailureContext(),
    ) -> TokenGrant:
        register_secret(code)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        return self._post(form, context)

    def client_credentials(
        self,
        *,
        scope: str,
        client_id: str,
        client_secret: str,
        context: FailureContext = FailureContext(),
    ) -> TokenGrant:
        form = {
            "grant_type": "client_credentials",
            "scope": scope,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        return self._post(form, context)

    # -- transport and retries --------------------------------------------------------

    def _post(self, form: dict[str, str], context: FailureContext) -> TokenGrant:
        register_secret(form.get("client_secret"))
        grant = form["grant_type"]
        started = time.monotonic()
        deadline = started + self.retry.max_total_seconds
        last: _Retryable | None = None
        with httpx.Client(
            timeout=self.timeout,
            transport=self._transport,
            limits=bounded.NO_KEEPALIVE,
            verify=client_tls.context_for(self.token_url),
            headers={
                "user-agent": user_agent(),
                "accept": "application/json",
                "accept-encoding": bounded.ACCEPT_ENCODING,
            },
        ) as client:
            for attempt in range(1, self.retry.max_attempts + 1):
                attempt_deadline = time.monotonic() + self.deadline
                late = f"no complete answer within {self.deadline:g} s"
                if attempt_deadline > deadline:
                    attempt_deadline = deadline
                    late = (
                        "no complete answer before the call's "
                        f"{self.retry.max_total_seconds:g} s budget ran out"
                    )
                try:
                    return self._attempt(client, form, context, attempt_deadline, late)
                except _Retryable as exc:
                    last = exc
                remaining = deadline - time.monotonic()
                if attempt == self.retry.max_attempts or remaining <= 0:
                    break
                backoff = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
                delay = backoff * self._jitter()  # full jitter
                if last.retry_after is not None:
                    if last.retry_after > remaining:
                        break  # Amazon asked for a longer wait than we may spend
                    delay = max(delay, last.retry_after)
                delay = min(delay, remaining)
                log.info(
                    "LWA %s attempt %d failed (%s); retrying in %.2fs",
                    grant,
                    attempt,
                    last.detail,
                    delay,
                )
                self._sleep(delay)
        assert last is not None
        elapsed = time.monotonic() - started
        raise AmazonUnavailable(
            _with_rid(
                f"Login with Amazon is unreachable or failing: {last.detail}; gave up after "
                f"{attempt} attempt(s) in {elapsed:.1f} s",
                last.request_id,
            ),
            "try again in a few minutes; if it persists, check your network, proxy and "
            f"{self.token_url}",
        )

    def _attempt(
        self,
        client: httpx.Client,
        form: dict[str, str],
        context: FailureContext,
        deadline: float,
        late: str,
    ) -> TokenGrant:
        try:
            answer = bounded.fetch(
                client,
                "POST",
                self.token_url,
                data=form,
                deadline=deadline,
                timeout=self.timeout,
                limit=MAX_ANSWER_BYTES,
            )
        except bounded.DeadlineExceeded:
            raise _Retryable(f"timed out: {late}", None, None) from None
        except httpx.TimeoutException:
            # The operation timeout is clipped to the deadline: say which one struck.
            if time.monotonic() >= deadline - 0.01:
                raise _Retryable(f"timed out: {late}", None, None) from None
            raise _Retryable(f"timed out after {self.timeout:g} s", None, None) from None
        except httpx.TransportError as exc:
            raise _Retryable(one_line(f"{type(exc).__name__}: {exc}"), None, None) from None
        server_date = _parse_date(answer.headers.get("date"))
        if server_date is not None:
            self.last_server_date = server_date
        body = answer.json_object()
        request_id = _request_id(answer.headers, body)
        status = answer.status_code
        error = body.get("error") if body else None
        lwa_error = error if isinstance(error, str) and error else None

        if status >= 500 or status == 429 or lwa_error in _RETRYABLE_ERRORS:
            what = f"HTTP {status}"
            if lwa_error:
                what += f" {one_line(lwa_error, 64)}"
            elif body is None:
                what += f" with {answer.describe()}"
            retry_after = _parse_retry_after(answer.headers.get("retry-after"), answer.received_at)
            raise _Retryable(what, retry_after, request_id)
        if status >= 400 and lwa_error is None:
            # Not LWA's JSON error: a proxy, firewall or captive portal answered instead
            # (issue 8, section 5); a network problem for the user, not a bug.
            raise AmazonUnavailable(
                _with_rid(
                    f"the address of Login with Amazon answered HTTP {status} with "
                    f"{answer.describe()}, which is not an answer of Amazon's token endpoint; "
                    "a proxy, firewall or captive portal on the way usually sends these",
                    request_id,
                ),
                f"check the network path to {self.token_url} (proxy settings such as "
                "HTTPS_PROXY, firewall, VPN), then try again",
            )
        if status >= 400:
            assert body is not None and lwa_error is not None
            raise self._error(status, body, lwa_error, form["grant_type"], request_id, context)
        return self._grant(answer, body, form["grant_type"], request_id, server_date)

    def _grant(
        self,
        answer: bounded.BoundedAnswer,
        body: dict[str, object] | None,
        grant_type: str,
        request_id: str | None,
        server_date: float | None,
    ) -> TokenGrant:
        """Check a 2xx answer's shape before anything is printed or stored."""
        status = answer.status_code

        def unusable(problem: str) -> AmazonUnavailable:
            return AmazonUnavailable(
                _with_rid(
                    f"Login with Amazon answered HTTP {status}, but {problem}; "
                    "nothing was printed or stored",
                    request_id,
                ),
                f"try again; if it persists, check that {self.token_url} is the LWA token "
                "endpoint and that no proxy rewrites its answers",
            )

        if body is None or not 200 <= status < 300:
            raise unusable(f"with {answer.describe()} instead of a token")
        access_token = body.get("access_token")
        refresh_token = body.get("refresh_token")
        # Registered before any check, so that even a rejected value is masked if echoed.
        for value in (access_token, refresh_token):
            if isinstance(value, str):
                register_secret(value)
        problem = _token_problem(access_token, "access token")
        if refresh_token is not None or grant_type == "authorization_code":
            # The code grant's refresh token is what gets stored (amazon.md section 5).
            problem = problem or _token_problem(refresh_token, "refresh token")
        token_type = body.get("token_type")
        if not problem and not (isinstance(token_type, str) and token_type.lower() == "bearer"):
            shown = one_line(token_type, 20) if isinstance(token_type, str) else None
            problem = f"its token type is {shown!r}, not 'bearer'"
        expires_in = _expires_in(body.get("expires_in"))
        if not problem and expires_in is None:
            problem = (
                f"its expires_in is missing or not a lifetime of 1 to {MAX_EXPIRES_IN} seconds"
            )
        if problem:
            raise unusable(problem)
        assert isinstance(access_token, str) and expires_in is not None
        return TokenGrant(
            access_token=access_token,
            expires_in=expires_in,
            obtained_at=answer.received_at,
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
            token_type="bearer",
            server_date=server_date,
            request_id=request_id,
        )

    def _error(
        self,
        status: int,
        body: dict[str, object],
        error: str,
        grant: str,
        request_id: str | None,
        context: FailureContext,
    ) -> SpconnectError:
        """Map an LWA 4xx answer to the design's exit codes (amazon.md section 5)."""
        description = one_line(str(body.get("error_description") or ""))
        shown_error = one_line(error, 64)
        said = f"{shown_error}: {description}" if description else shown_error
        profile = context.profile or "NAME"
        app = context.app or "NAME"
        if error == "invalid_grant" and grant == "refresh_token":
            return AuthorizationRejected(
                _with_rid(
                    f"Amazon rejected the authorization of profile {profile!r} ({said})", request_id
                )
                + "; the seller revoked the app, the yearly authorization lapsed, or the "
                "token belongs to another app or region",
                (
                    "the seller must authorize again; then set the new refresh token in "
                    f"{envvars.refresh_token_variable(profile)} or {envvars.REFRESH_TOKEN}"
                    if context.app == envvars.ZERO_CONFIG_APP
                    else f"the seller must authorize again: `spconnect reauth -p {profile}`"
                ),
            )
        if error == "invalid_grant":
            return LoginIncomplete(
                _with_rid(
                    f"Amazon rejected the authorization code ({said}); it lives 5 "
                    "minutes, is single-use, and must be for this app and redirect URI",
                    request_id,
                ),
                "start the login again",
            )
        if error in ("invalid_client", "unauthorized_client"):
            return ClientRejected(
                _with_rid(
                    f"Amazon rejected the credentials of app {app!r} ({said}); wrong "
                    "client id or secret, the application id used as client id, or a "
                    "secret past its 180-day rotation",
                    request_id,
                ),
                (
                    f"check {envvars.CLIENT_ID} and set the current secret in "
                    f"{envvars.CLIENT_SECRET}"
                    if context.app == envvars.ZERO_CONFIG_APP
                    else f"set the current secret: `spconnect app set-secret {app}`"
                ),
            )
        if error == "invalid_scope":
            return ClientRejected(
                _with_rid(
                    f"Amazon refused the requested scope ({said}); grantless tokens "
                    "are for seller apps only",
                    request_id,
                ),
                "check the app's kind and roles in Developer Central",
            )
        sent = ", ".join(
            "grant_type=" + grant if k == "grant_type" else f"{k}=<{k}>"
            for k in ("grant_type", "client_id", "client_secret")
        )
        return AmazonRequestRejected(
            _with_rid(
                f"Login with Amazon refused the request ({said}); sent {sent} to {self.token_url}",
                request_id,
            ),
            "this is likely a bug in spconnect; please report it with this message",
        )
