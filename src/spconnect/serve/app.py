"""The invite server's ASGI application (Starlette): routes onto flow.py and admin.py,
and one guard in front of everything that faces the internet (issue 11, "Security").

The guard, for every request:

- refuses oversized requests before reading them: a path over 2 KiB or a query over
  8 KiB (414), a ``Content-Length`` over the path's cap (413: 8 KiB on public paths,
  64 KiB on the admin API), and counts a body sent without a length as it arrives;
- bounds the time a body may take to arrive (408): uvicorn has no such timeout, and a
  client trickling a body would hold its connection and task for as long as it liked;
- rate-limits public paths per client address (429 with ``Retry-After``); the address
  is the peer's, or ``X-Forwarded-For``'s when the peer is a trusted proxy (uvicorn's
  proxy headers, runner.py);
- lets nothing under ``/admin/`` through without the bearer token (401), whatever the
  path, so that the admin API's shape is not visible from outside;
- adds the security headers to every answer (CSP, ``Referrer-Policy: no-referrer``,
  ``X-Content-Type-Options``, ``Cache-Control: no-store``, no framing), unless a page
  set its own CSP (the invite page, whose form leads to Amazon's Central);
- logs one line per request with the path only: never a query string, where Amazon's
  code and the state travel, and invite ids shortened;
- turns any failure into a plain 500 (503 for the database) with only the error's class
  in the log, so that no traceback can carry a request's values.

The handlers run flow.py and admin.py on worker threads: storage and the LWA exchange
block, and the event loop must keep answering other sellers meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spconnect.consent.pages import SECURITY_HEADERS
from spconnect.errors import StorageUnavailable
from spconnect.serve import pages
from spconnect.serve.admin import AdminApi, AdminError, Answer
from spconnect.serve.flow import InviteService, Reply
from spconnect.serve.ratelimit import RateLimiter
from spconnect.serve.settings import ADMIN_PREFIX, HEALTH_PATH, INVITE_PREFIX

log = logging.getLogger("spconnect.serve")

MAX_PATH_BYTES = 2 * 1024
MAX_QUERY_BYTES = 8 * 1024
MAX_PUBLIC_BODY_BYTES = 8 * 1024
MAX_ADMIN_BODY_BYTES = 64 * 1024  # docs/serve-api.md
MAX_TOKEN_CHARS = 256
# uvicorn's h11 cap applies only to a head that arrives in pieces; this one to all.
MAX_HEADER_BYTES = 16 * 1024
# From the head's arrival to the body's last byte; a 64 KiB body takes far less.
BODY_DEADLINE_SECONDS = 20.0

_DEFAULT_CSP = SECURITY_HEADERS["Content-Security-Policy"]
_SHOWN_ID = re.compile(r"[A-Za-z0-9_-]{16,}")
# Sec-Fetch-Site values of a request the invite page's own form (or the person) made.
_OWN_SITE = frozenset({"same-origin", "none"})


def page_csp(form_targets: tuple[str, ...]) -> str:
    """The strict CSP, with the page's form allowed to go to itself and ``form_targets``
    (CSP form-action also governs where the form's answer redirects)."""
    return _DEFAULT_CSP.replace(
        "form-action 'none'", "form-action " + " ".join(("'self'", *form_targets))
    )


def _is_admin(path: str) -> bool:
    return path.startswith(ADMIN_PREFIX) or path == ADMIN_PREFIX.rstrip("/")


def shown_path(path: str) -> str:
    """A path for the log: ids (invite links are bearer capabilities) cut short."""
    return _SHOWN_ID.sub(lambda m: m.group()[:4] + "…", path[:200])


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


def _plain_answer(status: int, admin: bool, title: str, text: str, code: str) -> Response:
    if admin:
        return JSONResponse({"error": code, "message": text}, status_code=status)
    return HTMLResponse(pages.status_page(title, text), status_code=status)


class Guard:
    """The pure-ASGI middleware described in the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        admin_token_matches: Callable[[str], bool],
        limiter: RateLimiter | None,
    ) -> None:
        self.app = app
        self.admin_token_matches = admin_token_matches
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.monotonic()
        path: str = scope.get("path", "")
        admin = _is_admin(path)
        client = (scope.get("client") or ("-", 0))[0]
        status = 0

        async def send_guarded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        limit = MAX_ADMIN_BODY_BYTES if admin else MAX_PUBLIC_BODY_BYTES
        received = 0
        body_done = False
        body_deadline = started_at + BODY_DEADLINE_SECONDS

        async def receive_limited() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body: a wait for the disconnect, not bounded here
                return await receive()
            try:
                message = await asyncio.wait_for(
                    receive(), max(0.0, body_deadline - time.monotonic())
                )
            except asyncio.TimeoutError:
                raise _BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
                body_done = not message.get("more_body", False)
            return message

        try:
            refusal = self._refusal(scope, path, admin, client, limit)
            if refusal is None and admin:
                refusal = await self._unauthorized(scope)
            if refusal is not None:
                await refusal(scope, receive, send_guarded)
            else:
                await self.app(scope, receive_limited, send_guarded)
        except _BodyTooLarge:
            if not status:
                await _too_large(admin)(scope, receive, send_guarded)
        except _BodyTooSlow:
            if not status:
                await _too_slow(admin)(scope, receive, send_guarded)
        except StorageUnavailable as error:
            log.warning("storage unavailable: %s", error.message)
            if not status:
                await _unavailable(admin)(scope, receive, send_guarded)
        except Exception as error:
            # The class only: a message or traceback could quote the request's values.
            log.error("internal error on %s %s: %s", scope.get("method"), shown_path(path),
                      type(error).__name__)  # fmt: skip
            if not status:
                answer = _plain_answer(
                    500, admin, "Something went wrong", "Nothing was changed.", "internal"
                )
                await answer(scope, receive, send_guarded)
        finally:
            log.info(
                "%s %s %s %s %d ms",
                client,
                scope.get("method", "-"),
                shown_path(path),
                status or "-",
                round((time.monotonic() - started_at) * 1000),
            )

    def _refusal(
        self, scope: Scope, path: str, admin: bool, client: str, limit: int
    ) -> Response | None:
        if (
            len(scope.get("raw_path") or path.encode()) > MAX_PATH_BYTES
            or len(scope.get("query_string", b"")) > MAX_QUERY_BYTES
        ):
            return _plain_answer(
                414, admin, "Address too long", "This address is longer than any this "
                "site makes.", "too_long"
            )  # fmt: skip
        if sum(len(n) + len(v) for n, v in scope.get("headers", [])) > MAX_HEADER_BYTES:
            return _plain_answer(
                431, admin, "Headers too large", "This request's headers are too large.",
                "too_large"
            )  # fmt: skip
        length = _content_length(scope)
        if length is not None and length > limit:
            return _too_large(admin)
        if self.limiter is not None and not admin and path != HEALTH_PATH:
            wait = self.limiter.wait_needed(client)
            if wait > 0:
                answer = _plain_answer(
                    429,
                    admin,
                    "Too many requests",
                    "This address sent too many requests; wait a minute and try again.",
                    "rate_limited",
                )
                answer.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
                return answer
        return None

    async def _unauthorized(self, scope: Scope) -> Response | None:
        header = ""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value.decode("latin-1")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if (
            scheme.lower() == "bearer"
            and 0 < len(token) <= MAX_TOKEN_CHARS
            and await run_in_threadpool(self.admin_token_matches, token)
        ):
            return None
        answer = JSONResponse({"error": "unauthorized"}, status_code=401)
        answer.headers["WWW-Authenticate"] = "Bearer"
        return answer


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(admin: bool) -> Response:
    return _plain_answer(413, admin, "Request too large", "This request is too large.", "too_large")


def _too_slow(admin: bool) -> Response:
    answer = _plain_answer(
        408, admin, "Request too slow", "This request's body took too long to arrive.", "timeout"
    )
    answer.headers["Connection"] = "close"
    return answer


def _unavailable(admin: bool) -> Response:
    if admin:
        return JSONResponse(
            {"error": "unavailable", "message": "the database is unavailable"}, status_code=503
        )
    return HTMLResponse(pages.unavailable_page(), status_code=503)


def _html(reply: Reply) -> Response:
    response = (
        HTMLResponse(reply.body, status_code=reply.status)
        if reply.body
        else Response(status_code=reply.status)
    )
    if reply.location:
        response.headers["Location"] = reply.location
    if reply.set_cookie:
        response.headers["Set-Cookie"] = reply.set_cookie
    if reply.form_targets:
        response.headers["Content-Security-Policy"] = page_csp(reply.form_targets)
    return response


def _json(answer: Answer) -> Response:
    status, body = answer
    return JSONResponse(body, status_code=status)


async def _json_body(request: Request) -> object:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise AdminError(415, "unsupported_media_type", "send the body as application/json")
    try:
        return json.loads(await request.body())
    except (ValueError, RecursionError):
        raise AdminError(400, "bad_request", "the body is not JSON") from None


def create_app(
    service: InviteService, admin: AdminApi, *, limiter: RateLimiter | None = None
) -> Guard:
    settings = service.settings

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def invite(request: Request) -> Response:
        invite_id = str(request.path_params["invite_id"])
        if request.method == "POST":
            await request.body()  # the button's form carries nothing; read, bounded
            if request.headers.get("sec-fetch-site", "same-origin") not in _OWN_SITE:
                # Another site's form (CSRF): it would send this browser to Amazon for an
                # invite it never opened, and replace its cookie. A browser too old to
                # say where a request comes from is let through.
                return _plain_answer(
                    403,
                    False,
                    "This request came from another site",
                    "Open the invite link itself, and press the button on its page.",
                    "forbidden",
                )
            browser = service.browser_of(request.cookies)
            return _html(await run_in_threadpool(service.start, invite_id, browser))
        return _html(await run_in_threadpool(service.show_invite, invite_id))

    async def visit(request: Request) -> Response:
        params = dict(request.query_params)
        browser = service.browser_of(request.cookies)
        referer = request.headers.get("referer", "")[:512]
        return _html(await run_in_threadpool(service.visit, params, browser, referer))

    def admin_route(
        method: Callable[..., Answer], *, body: bool = False, query: tuple[str, ...] = ()
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                args: list[object] = [str(v) for v in request.path_params.values()]
                args.extend(request.query_params.get(name) for name in query)
                if body:
                    args.append(await _json_body(request))
                return _json(await run_in_threadpool(method, *args))
            except AdminError as error:
                return JSONResponse(error.body(), status_code=error.status)

        return endpoint

    routes = [
        Route(HEALTH_PATH, healthz, methods=["GET"]),
        Route(INVITE_PREFIX + "{invite_id}", invite, methods=["GET", "POST"]),
        Route(settings.redirect_path, visit, methods=["GET"]),
        Route("/admin/v1/info", admin_route(admin.info), methods=["GET"]),
        Route("/admin/v1/keys", admin_route(admin.add_key, body=True), methods=["POST"]),
        Route(
            "/admin/v1/invites",
            admin_route(admin.list_invites, query=("status",)),
            methods=["GET"],
        ),
        Route(
            "/admin/v1/invites",
            admin_route(admin.create_invite, body=True),
            methods=["POST"],
        ),
        Route("/admin/v1/invites/{invite_id}", admin_route(admin.get_invite), methods=["GET"]),
        Route("/admin/v1/invites/{invite_id}", admin_route(admin.revoke), methods=["DELETE"]),
        Route(
            "/admin/v1/invites/{invite_id}/pulled",
            admin_route(admin.mark_pulled),
            methods=["POST"],
        ),
    ]
    if settings.login_path and settings.login_path != settings.redirect_path:
        routes.append(Route(settings.login_path, visit, methods=["GET"]))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if status == 405:
            return _plain_answer(
                405, _is_admin(request.url.path), "Not allowed", "Not allowed here.", "not_allowed"
            )
        return _plain_answer(
            404,
            _is_admin(request.url.path),
            "Not found",
            "There is nothing at this address.",
            "not_found",
        )

    async def storage_unavailable(request: Request, exc: Exception) -> Response:
        log.warning("storage unavailable: %s", getattr(exc, "message", type(exc).__name__))
        return _unavailable(_is_admin(request.url.path))

    async def body_too_large(request: Request, exc: Exception) -> Response:
        # Raised by the guard's counting receive, inside a handler reading the body.
        return _too_large(_is_admin(request.url.path))

    async def body_too_slow(request: Request, exc: Exception) -> Response:
        return _too_slow(_is_admin(request.url.path))

    async def internal_error(request: Request, exc: Exception) -> Response:
        # Starlette re-raises after this answer; the guard logs the error's class.
        return _plain_answer(
            500, _is_admin(request.url.path), "Something went wrong", "Nothing was changed.",
            "internal",
        )  # fmt: skip

    app = Starlette(
        routes=routes,
        exception_handlers={
            404: not_found,
            405: not_found,
            StorageUnavailable: storage_unavailable,
            _BodyTooLarge: body_too_large,
            _BodyTooSlow: body_too_slow,
            Exception: internal_error,
        },
    )
    # No trailing-slash redirects: Starlette builds their Location from the request's
    # Host header, so a request naming another host would be sent there, with its query
    # (Amazon's state and code). An address with a stray slash is simply not found.
    app.router.redirect_slashes = False
    return Guard(app, admin_token_matches=admin.storage.admin_token_matches, limiter=limiter)
