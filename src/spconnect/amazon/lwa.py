"""The Login with Amazon token endpoint (amazon.md section 5).

Three grants, form-encoded by httpx (Amazon's own JS helper once concatenated strings and
broke on '|'). Errors become the exceptions of errors.py with the design's exit codes.
Retries only where a retry can help: connection errors, timeouts, 5xx, 429 and the
``server_error``/``temporarily_unavailable`` answers, with exponential backoff, full
jitter, ``Retry-After`` honoured, and bounded attempts and total time. Never a 4xx: those
answers do not change on their own, and a code or refresh token must not be hammered.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from spconnect._version import __version__
from spconnect.amazon.endpoints import lwa_token_url
from spconnect.errors import (
    AmazonRequestRejected,
    AmazonUnavailable,
    AuthorizationRejected,
    ClientRejected,
    LoginIncomplete,
    SpconnectError,
)
from spconnect.redaction import redact, register_secret

log = logging.getLogger("spconnect.lwa")

SCOPE_NOTIFICATIONS = "sellingpartnerapi::notifications"
SCOPE_ROTATION = "sellingpartnerapi::client_credential:rotation"
GRANTLESS_SCOPES = {"notifications": SCOPE_NOTIFICATIONS, "rotation": SCOPE_ROTATION}
_RETRYABLE_ERRORS = {"server_error", "temporarily_unavailable"}


def user_agent() -> str:
    import platform

    return f"spconnect/{__version__} (Language=Python/{platform.python_version()})"


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


def _request_id(response: httpx.Response, body: dict[str, object] | None) -> str | None:
    rid: str | None = response.headers.get("x-amzn-requestid") or response.headers.get(
        "x-amzn-request-id"
    )
    if not rid and body and isinstance(body.get("request_id"), str):
        rid = str(body["request_id"])
    return rid


def _json_body(response: httpx.Response) -> dict[str, object] | None:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _with_rid(text: str, request_id: str | None) -> str:
    return f"{text} (request id {request_id})" if request_id else text


class LwaClient:
    """Client for the LWA token endpoint. Construct once, call a grant method."""

    def __init__(
        self,
        token_url: str | None = None,
        *,
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.token_url = token_url or lwa_token_url()
        self.timeout = timeout
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
            headers={"user-agent": user_agent(), "accept": "application/json"},
        ) as client:
            for attempt in range(1, self.retry.max_attempts + 1):
                try:
                    return self._attempt(client, form, context)
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
        self, client: httpx.Client, form: dict[str, str], context: FailureContext
    ) -> TokenGrant:
        try:
            response = client.post(self.token_url, data=form)
        except httpx.TimeoutException:
            raise _Retryable(f"timed out after {self.timeout:g} s", None, None) from None
        except httpx.TransportError as exc:
            raise _Retryable(redact(f"{type(exc).__name__}: {exc}"), None, None) from None
        received = time.time()
        server_date = _parse_date(response.headers.get("date"))
        if server_date is not None:
            self.last_server_date = server_date
        body = _json_body(response)
        request_id = _request_id(response, body)
        status = response.status_code
        error = body.get("error") if body else None

        if status >= 500 or status == 429 or error in _RETRYABLE_ERRORS:
            what = f"HTTP {status}"
            if error:
                what += f" {error}"
            elif body is None:
                what += " with a non-JSON page"
            retry_after = _parse_retry_after(response.headers.get("retry-after"), received)
            raise _Retryable(what, retry_after, request_id)
        if status >= 400:
            raise self._error(status, body, form["grant_type"], request_id, context)
        if body is None or not isinstance(body.get("access_token"), str):
            raise AmazonUnavailable(
                _with_rid(
                    f"Login with Amazon sent an unexpected answer (HTTP {status})", request_id
                ),
                f"check that {self.token_url} is the LWA token endpoint",
            )
        access_token = str(body["access_token"])
        register_secret(access_token)
        refresh_token = body.get("refresh_token")
        if isinstance(refresh_token, str):
            register_secret(refresh_token)
        try:
            expires_in = int(body.get("expires_in", 3600))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            expires_in = 3600
        return TokenGrant(
            access_token=access_token,
            expires_in=expires_in,
            obtained_at=received,
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
            token_type=str(body.get("token_type", "bearer")),
            server_date=server_date,
            request_id=request_id,
        )

    def _error(
        self,
        status: int,
        body: dict[str, object] | None,
        grant: str,
        request_id: str | None,
        context: FailureContext,
    ) -> SpconnectError:
        """Map an LWA 4xx answer to the design's exit codes (amazon.md section 5)."""
        if body is None:
            return AmazonRequestRejected(
                _with_rid(
                    f"Login with Amazon answered HTTP {status} with a non-JSON page", request_id
                ),
                f"check that {self.token_url} is the LWA token endpoint",
            )
        error = str(body.get("error", "unknown_error"))
        description = redact(str(body.get("error_description", "")).strip())
        said = f"{error}: {description}" if description else error
        profile = context.profile or "NAME"
        app = context.app or "NAME"
        if error == "invalid_grant" and grant == "refresh_token":
            return AuthorizationRejected(
                _with_rid(
                    f"Amazon rejected the authorization of profile {profile!r} ({said})", request_id
                )
                + "; the seller revoked the app, the yearly authorization lapsed, or the "
                "token belongs to another app or region",
                f"the seller must authorize again: `spconnect reauth -p {profile}`",
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
                f"set the current secret: `spconnect app set-secret {app}`",
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
