"""The invite server's admin API as the CLI calls it (docs/serve-api.md, issue 11).

One client and the values it returns; no Typer, no Rich: ``spconnect server`` and
``spconnect invite`` build it from a paired server's config and admin token, call one
method and render the result.

The same bounds as for Amazon's endpoints (amazon/bounded.py): every request has an
overall deadline, even against a server that trickles bytes, and a cap on the body. TLS
is verified (httpx's default; nothing here turns it off). Redirects are not followed: the
bearer token must not travel to another origin, and a redirect means the URL given to
``server add`` is not the admin API's. The admin token goes only in the Authorization
header, which traces never show (amazon/trace.py prints method, host and path), and it is
registered with the redaction filter, so an error body that echoes it is masked too.

What comes back is checked before use: an invite id must be URL-safe before it goes into
a path, selling partner ids must have Amazon's shapes, and an answer that is not the
contract's JSON is "not the admin API of spconnect serve", exit 6, as a proxy's page
would be for LWA.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import httpx

from spconnect._version import user_agent
from spconnect.amazon import bounded, client_tls, ids
from spconnect.errors import NotSetUp, ServerUnavailable, UsageError
from spconnect.names import is_visible_ascii
from spconnect.redaction import one_line, register_secret, strip_controls
from spconnect.store.config import server_url_problem

API_PREFIX = "/admin/v1"
# docs/serve-api.md: every JSON body is at most 64 KiB. The invite list is the exception
# the contract does not spell out: 200 invites (the benchmark) are about 100 KiB,
# so the list may be longer; 8 MiB is some 15,000 invites.
MAX_ANSWER_BYTES = 64 * 1024
MAX_LIST_BYTES = 8 * 1024 * 1024
TIMEOUT_SECONDS = 10.0  # per network operation
DEADLINE_SECONDS = 20.0  # per request, from sending it to the last byte of the answer
MAX_ADMIN_TOKEN_LENGTH = 512
MIN_ADMIN_TOKEN_LENGTH = 16
# docs/serve-api.md: an invite lives 60 s to 30 days; a note is at most 200 characters.
MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 30 * 24 * 3600
MAX_NOTE_LENGTH = 200
STATUSES = ("pending", "connected", "pulled", "expired", "failed", "revoked")
_URL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_MAX_TEXT = 1000  # a failure text, an app name: shown on one line, capped


def check_admin_token(value: str) -> str:
    """The admin token as read from stdin or a prompt: visible ASCII, bounded. The
    message never repeats the value."""
    if not MIN_ADMIN_TOKEN_LENGTH <= len(value) <= MAX_ADMIN_TOKEN_LENGTH:
        raise UsageError(
            f"the admin token must be {MIN_ADMIN_TOKEN_LENGTH} to {MAX_ADMIN_TOKEN_LENGTH} "
            f"characters long (this one has {len(value)})",
            "copy the value after `admin token:` from the server's first start, in one piece",
        )
    if not is_visible_ascii(value):
        raise UsageError(
            "the admin token contains spaces, control or non-ASCII characters",
            "copy the value after `admin token:` from the server's first start, in one piece",
        )
    return value


def is_invite_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 128 and set(value) <= _URL_SAFE


@dataclass(frozen=True)
class ServerInfo:
    """``GET /admin/v1/info``: the app the server authorizes for, and where sellers go."""

    app: str
    client_id: str
    app_id: str | None
    kind: str
    public_url: str
    open_enrollment: bool
    version: str | None


@dataclass(frozen=True)
class Invite:
    """An invite as the server describes it (docs/serve-api.md, "An invite object")."""

    id: str
    profile: str | None
    marketplace: str | None
    kind: str
    reauth: bool
    expected_selling_partner_id: str | None
    note: str | None
    status: str
    selling_partner_id: str | None
    created_at: dt.datetime | None
    expires_at: dt.datetime | None
    connected_at: dt.datetime | None
    failure: str | None
    open_enrollment: bool
    key_id: str | None = None  # not in the contract: which key sealed it, when the server says
    url: str | None = None  # the link, in the answer to create


@dataclass(frozen=True)
class InviteRequest:
    """The body of ``POST /admin/v1/invites``."""

    key_id: str
    profile: str
    marketplace: str
    vendor: bool
    expires_in: int
    note: str | None
    reauth: bool
    expected_selling_partner_id: str | None

    def body(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "profile": self.profile,
            "marketplace": self.marketplace,
            "vendor": self.vendor,
            "expires_in": self.expires_in,
            "note": self.note,
            "reauth": self.reauth,
            "expected_selling_partner_id": self.expected_selling_partner_id,
        }


class _Malformed(ValueError):
    """An answer that is not what docs/serve-api.md describes."""


class AdminApi:
    """Calls to one server's admin API. ``name`` is the server's name in this CLI, used in
    hints; ``url`` the address given to ``server add`` (checked there)."""

    def __init__(
        self,
        name: str,
        url: str,
        token: str,
        *,
        timeout: float = TIMEOUT_SECONDS,
        deadline: float = DEADLINE_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        register_secret(token)
        self.name = name
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.deadline = deadline
        self._transport = transport

    # -- the requests of docs/serve-api.md ----------------------------------------------

    def info(self) -> ServerInfo:
        body = self._call("GET", "/info")
        try:
            return ServerInfo(
                app=_text(body, "app", required=True) or "",
                client_id=_checked(body, "client_id", ids.check_client_id, required=True) or "",
                app_id=_text(body, "app_id"),
                kind=_choice(body, "kind", ("seller", "vendor")),
                public_url=_text(body, "public_url", required=True) or "",
                open_enrollment=_flag(body, "open_enrollment"),
                version=_text(body, "version"),
            )
        except _Malformed as problem:
            raise self._not_the_api("GET", "/info", str(problem)) from None

    def add_key(self, public_key: str, label: str) -> str:
        """Register a recipient public key; returns its key id."""
        body = self._call("POST", "/keys", json={"public_key": public_key, "label": label})
        key_id = body.get("key_id")
        if not isinstance(key_id, str) or not 0 < len(key_id) <= 128:
            raise self._not_the_api("POST", "/keys", "no key_id in the answer")
        return key_id

    def create_invite(self, request: InviteRequest) -> Invite:
        body = self._call("POST", "/invites", json=request.body())
        invite = self._invite(body, "POST", "/invites")
        # The link is printed for a person to send: an https address of the server's.
        url = invite.url or ""
        if server_url_problem(url) is not None or f"/i/{invite.id}" not in url:
            raise self._not_the_api("POST", "/invites", "its url is not an invite link")
        return invite

    def invites(self, status: str | None = None) -> list[Invite]:
        """The invites the server holds, newest first (the newest 1000; of one status
        when ``status`` is given)."""
        path = "/invites" if status is None else f"/invites?status={status}"
        body = self._call("GET", path, limit=MAX_LIST_BYTES)
        items = body.get("invites")
        if not isinstance(items, list):
            raise self._not_the_api("GET", path, "no invites list in the answer")
        listed = [self._invite(item, "GET", path) for item in items]
        if status is not None and any(invite.status != status for invite in listed):
            raise self._not_the_api("GET", path, f"it listed invites that are not {status}")
        return listed

    def invite(self, invite_id: str) -> tuple[Invite, str | None]:
        """One invite and, when it is connected and not yet pulled, its sealed text."""
        path = _invite_path(invite_id)
        body = self._call("GET", path)
        invite = self._invite(body, "GET", path)
        if invite.id != invite_id:
            raise self._not_the_api("GET", path, "the answer is for another invite")
        sealed = body.get("sealed")
        if sealed is not None and not isinstance(sealed, str):
            raise self._not_the_api("GET", path, "sealed is not a string")
        return invite, sealed

    def revoke(self, invite_id: str) -> Invite:
        """Withdraw an invite: its link stops working; a sealed blob is deleted."""
        path = _invite_path(invite_id)
        return self._invite(self._call("DELETE", path), "DELETE", path)

    def mark_pulled(self, invite_id: str) -> None:
        """Tell the server the authorization is stored here: it deletes the sealed blob."""
        self._call("POST", _invite_path(invite_id) + "/pulled")

    # -- transport and the mapping of answers to errors ----------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, object] | None = None,
        limit: int = MAX_ANSWER_BYTES,
    ) -> dict[str, Any]:
        url = self.url + API_PREFIX + path
        headers = {
            "user-agent": user_agent(),
            "accept": "application/json",
            "accept-encoding": bounded.ACCEPT_ENCODING,
            "authorization": f"Bearer {self._token}",
        }
        request: dict[str, Any] = {} if json is None else {"json": json}
        try:
            with httpx.Client(
                timeout=self.timeout,
                transport=self._transport,
                limits=bounded.NO_KEEPALIVE,
                verify=client_tls.context_for(url),
                follow_redirects=False,
                headers=headers,
            ) as client:
                answer = bounded.fetch(
                    client,
                    method,
                    url,
                    deadline=time.monotonic() + self.deadline,
                    timeout=self.timeout,
                    limit=limit,
                    **request,
                )
        except bounded.DeadlineExceeded:
            raise ServerUnavailable(
                f"the invite server {self.name!r} ({self.url}) sent no complete answer "
                f"within {self.deadline:g} s",
                self._retry_hint(),
            ) from None
        except httpx.HTTPError as error:
            raise ServerUnavailable(
                f"cannot reach the invite server {self.name!r} at {self.url}: "
                + one_line(f"{type(error).__name__}: {error}", 200),
                self._retry_hint(),
            ) from None
        return self._body(answer, method, path)

    def _body(self, answer: bounded.BoundedAnswer, method: str, path: str) -> dict[str, Any]:
        status = answer.status_code
        body = answer.json_object()
        if 300 <= status < 400:
            target = one_line(answer.headers.get("location", ""), 200) or "(no location)"
            raise UsageError(
                f"the invite server {self.name!r} answered {method} {API_PREFIX}{path} with "
                f"a redirect (HTTP {status} to {target}); the admin token is not sent on "
                "after a redirect",
                "pair with the address the admin API answers at: "
                f"`spconnect server add {self.name} --url URL --token-stdin --yes`",
            )
        if status == 401:
            raise NotSetUp(
                f"the invite server {self.name!r} ({self.url}) refused the admin token (HTTP 401)",
                f"pair again with its current token: `spconnect server add {self.name} "
                f"--url {self.url} --token-stdin --yes` (the server prints it on first "
                "start; `spconnect serve --rotate-admin-token` makes a new one)",
            )
        if status >= 500 or status == 429:
            raise ServerUnavailable(
                f"the invite server {self.name!r} ({self.url}) is failing: HTTP {status} "
                f"with {answer.describe()}",
                self._retry_hint(),
            )
        if 400 <= status < 500 and body is not None and isinstance(body.get("error"), str):
            code = one_line(str(body["error"]), 64)
            message = body.get("message")
            said = one_line(message, 300) if isinstance(message, str) and message else code
            raise UsageError(
                f"the invite server {self.name!r} refused {method} {API_PREFIX}{path}: "
                f"{said} ({code}, HTTP {status})",
                "check the values given; `spconnect invite list` shows the invites",
            )
        if not 200 <= status < 300 or body is None:
            raise self._not_the_api(
                method, path, f"it answered HTTP {status} with {answer.describe()}"
            )
        return body

    def _not_the_api(self, method: str, path: str, problem: str) -> ServerUnavailable:
        return ServerUnavailable(
            f"{self.url}{API_PREFIX}{path} ({method}) did not answer as the admin API of "
            f"`spconnect serve`: {problem}",
            f"check that {self.url} is the server's admin address and that a proxy in front "
            f"of it passes {API_PREFIX}/ through unchanged",
        )

    def _retry_hint(self) -> str:
        return (
            f"check that the server runs and that {self.url} is reachable from here, then try again"
        )

    def _invite(self, item: object, method: str, path: str) -> Invite:
        try:
            return _parse_invite(item)
        except _Malformed as problem:
            raise self._not_the_api(method, path, f"an invite in the answer: {problem}") from None


def _invite_path(invite_id: str) -> str:
    if not is_invite_id(invite_id):
        raise UsageError(
            f"{one_line(invite_id, 40)!r} is not an invite id",
            "`spconnect invite list` shows the ids",
        )
    return f"/invites/{invite_id}"


# -- reading the answers' fields ----------------------------------------------------------


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{key} is missing")
        return None
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise _Malformed(f"{key} is not a string of at most {_MAX_TEXT} characters")
    return strip_controls(value, multiline=False)


def _checked(body: dict[str, Any], key: str, check: Any, *, required: bool = False) -> str | None:
    value = _text(body, key, required=required)
    if value is None:
        return None
    try:
        return str(check(value))
    except UsageError as error:
        raise _Malformed(f"{key}: {error.message}") from None


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise _Malformed(f"{key} is not true or false")
    return value


def _choice(body: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = body.get(key)
    if value not in choices:
        raise _Malformed(f"{key} is not one of {', '.join(choices)}")
    return str(value)


def _time(body: dict[str, Any], key: str) -> dt.datetime | None:
    value = _text(body, key)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Malformed(f"{key} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _parse_invite(item: object) -> Invite:
    if not isinstance(item, dict):
        raise _Malformed("not an object")
    invite_id = item.get("id")
    if not is_invite_id(invite_id):
        raise _Malformed("its id is missing or not URL-safe")
    status = _text(item, "status", required=True)
    return Invite(
        id=str(invite_id),
        profile=_text(item, "profile"),
        marketplace=_text(item, "marketplace"),
        kind=_text(item, "kind") or "seller",
        reauth=_flag(item, "reauth"),
        expected_selling_partner_id=_checked(
            item, "expected_selling_partner_id", ids.check_selling_partner_id
        ),
        note=_text(item, "note"),
        status=status or "",
        selling_partner_id=_checked(item, "selling_partner_id", ids.check_selling_partner_id),
        created_at=_time(item, "created_at"),
        expires_at=_time(item, "expires_at"),
        connected_at=_time(item, "connected_at"),
        failure=_text(item, "failure"),
        open_enrollment=_flag(item, "open_enrollment"),
        key_id=_text(item, "key_id"),
        url=_text(item, "url"),
    )
