"""The emulated Seller Central / Vendor Central consent pages (amazon.md sections 2, 3, 10).

- ``GET /apps/authorize/consent``: checks the application id, ``version=beta`` for drafts
  (else MD1000) and the redirect URI (else MD5101; a fragment is MD5110), then shows the
  consent page; this website workflow never visits the Login URI (amazon.md section 3).
- ``GET /apps/authorize/confirm/<app id>``: where the Login URI sends the browser back,
  with ``amazon_state``, the app's ``state`` and ``redirect_uri``.
- ``POST /apps/authorize/decide``: Approve issues a 5-minute code and redirects to the
  redirect URI with ``state``, ``selling_partner_id`` and ``spapi_oauth_code``; Deny
  redirects with ``error=access_denied``.

Flows Amazon starts (amazon.md section 3), which reach the Login URI with no app waiting:

- ``GET /apps/manage``: Manage Your Apps, each live authorization with a Re-Authorize
  button (``POST /apps/manage/reauthorize``), the yearly renewal (amazon.md section 6);
- ``GET /apps/appstore/<app id>``: the app's Appstore page, whose Authorize now button
  (``POST /apps/appstore/authorize``) authorizes an account for the first time.

Both send the browser to the app's Login URI with ``amazon_callback_uri``,
``amazon_state`` and ``selling_partner_id`` (``version=beta`` for drafts); an app
without a Login URI gets MD5100 (amazon.md section 10). A renewal's ``amazon_state``
remembers its account, whose consent page then offers that account only.

Several accounts can be chosen from; ``auto_approve`` skips the page (scripts, the demo).
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from spconnect.emulator.state import AmazonState, EmulatedApp, EmulatorState

CONSENT_PATH = "/apps/authorize/consent"
CONFIRM_PREFIX = "/apps/authorize/confirm/"
DECIDE_PATH = "/apps/authorize/decide"
MANAGE_PATH = "/apps/manage"
REAUTHORIZE_PATH = "/apps/manage/reauthorize"
APPSTORE_PREFIX = "/apps/appstore/"
AUTHORIZE_NOW_PATH = "/apps/appstore/authorize"
AMAZON_STATE_LIFETIME = 900


@dataclass
class Page:
    status: int
    body: str = ""
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _page(title: str, body: str, status: int = 200) -> Page:
    document = (
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>"
        f"{html.escape(title)} - Amazon Seller Central (emulated)</title>"
        "<meta name=viewport content='width=device-width,initial-scale=1'></head>"
        "<body style='font-family:sans-serif;max-width:36rem;margin:2rem auto'>"
        "<p><i>spconnect's Amazon emulator</i></p>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Page(status, document)


def error_page(code: str, text: str) -> Page:
    return _page(
        "We're sorry",
        f"<p id=error-code>Error code: <b>{html.escape(code)}</b></p><p>{html.escape(text)}</p>",
        status=400,
    )


def _redirect(url: str) -> Page:
    return Page(302, location=url)


def _with_query(url: str, query: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


def _find_app(state: EmulatorState, app_id: str) -> EmulatedApp | None:
    with state.lock:
        return next((a for a in state.apps.values() if a.app_id == app_id), None)


def _check(state: EmulatorState, params: dict[str, str], app_id: str) -> EmulatedApp | Page:
    """The consent request checks Amazon makes, in its order."""
    app = _find_app(state, app_id)
    if app is None:
        return error_page("MD1000", "The application id is not valid.")
    if app.draft and params.get("version") != "beta":
        return error_page("MD1000", "This app is in draft status; version=beta is required.")
    redirect_uri = params.get("redirect_uri") or app.redirect_uris[0]
    if "#" in redirect_uri:
        return error_page("MD5110", "The redirect URI must not contain a fragment.")
    if redirect_uri not in app.redirect_uris:
        return error_page("MD5101", "The redirect URI is not registered for this app.")
    return app


def consent(state: EmulatorState, params: dict[str, str], base_url: str) -> Page:
    app_or_page = _check(state, params, params.get("application_id", ""))
    if isinstance(app_or_page, Page):
        return app_or_page
    app = app_or_page
    # The website workflow (a consent URL the app built) goes straight to the consent
    # page and then the redirect URI, Login URI or not (amazon.md section 3); only flows
    # Amazon starts (Manage Your Apps, the Appstore) pass through the Login URI.
    redirect_uri = params.get("redirect_uri") or app.redirect_uris[0]
    return _consent_page(state, app, params.get("state", ""), redirect_uri)


def _to_login_uri(
    state: EmulatorState,
    app: EmulatedApp,
    base_url: str,
    account: str | None,
    *,
    renewal: bool = False,
) -> Page:
    """Send the browser to the app's Login URI (amazon.md section 3)."""
    if not app.login_uri:
        return error_page("MD5100", "The app has no Login URI.")
    amazon_state = secrets.token_urlsafe(24)
    with state.lock:
        state.amazon_states[amazon_state] = AmazonState(
            app.client_id, state.now(), account if renewal else None
        )
    callback = CONFIRM_PREFIX + app.app_id
    if not state.relative_callback_uri:
        callback = base_url + callback
    query = {"amazon_callback_uri": callback, "amazon_state": amazon_state}
    if account:
        query["selling_partner_id"] = account
    if app.draft:
        query["version"] = "beta"
    return _redirect(_with_query(app.login_uri, query))


def confirm(state: EmulatorState, app_id: str, params: dict[str, str]) -> Page:
    app_or_page = _check(state, params, app_id)
    if isinstance(app_or_page, Page):
        return app_or_page
    app = app_or_page
    with state.lock:
        entry = state.amazon_states.pop(params.get("amazon_state", ""), None)
    if (
        entry is None
        or entry.client_id != app.client_id
        or state.now() - entry.issued_at > AMAZON_STATE_LIFETIME
    ):
        return error_page("MD9999", "The amazon_state is missing, expired or already used.")
    redirect_uri = params.get("redirect_uri") or app.redirect_uris[0]
    return _consent_page(
        state, app, params.get("state", ""), redirect_uri, only=entry.selling_partner_id
    )


def manage_your_apps(state: EmulatorState) -> Page:
    """Seller Central > Apps and Services > Manage Your Apps: every live authorization,
    each with Re-Authorize (the yearly renewal, amazon.md section 6)."""
    rows = "".join(
        f"<tr><td>{html.escape(app.name)}</td><td>{html.escape(account.name)} "
        f"({html.escape(account.selling_partner_id)})</td><td>"
        f"<form method=post action='{REAUTHORIZE_PATH}' "
        f"data-app='{html.escape(app.name, quote=True)}' "
        f"data-account='{html.escape(account.selling_partner_id, quote=True)}'>"
        f"<input type=hidden name=application_id value='{html.escape(app.app_id, quote=True)}'>"
        "<input type=hidden name=selling_partner_id "
        f"value='{html.escape(account.selling_partner_id, quote=True)}'>"
        "<button type=submit class=reauthorize>Re-Authorize</button></form></td></tr>"
        for app, account in state.authorizations()
    )
    if not rows:
        return _page("Manage Your Apps", "<p id=none>No authorized apps.</p>")
    return _page(
        "Manage Your Apps",
        f"<table><tr><th>App</th><th>Account</th><th></th></tr>{rows}</table>",
    )


def reauthorize(state: EmulatorState, form: dict[str, str], base_url: str) -> Page:
    app = _find_app(state, form.get("application_id", ""))
    if app is None:
        return error_page("MD1000", "The application id is not valid.")
    account = form.get("selling_partner_id", "")
    if all(
        (a.app_id, b.selling_partner_id) != (app.app_id, account) for a, b in state.authorizations()
    ):
        return error_page("MD9999", "This account has not authorized this app.")
    return _to_login_uri(state, app, base_url, account, renewal=True)


def appstore_page(state: EmulatorState, app_id: str) -> Page:
    """The app's Selling Partner Appstore detail page, with Authorize now."""
    app = _find_app(state, app_id)
    if app is None:
        return error_page("MD1000", "The application id is not valid.")
    return _page(
        html.escape(app.name),
        f"<form method=post action='{AUTHORIZE_NOW_PATH}'>"
        f"<input type=hidden name=application_id value='{html.escape(app.app_id, quote=True)}'>"
        "<button type=submit id=authorize-now>Authorize now</button></form>",
    )


def authorize_now(state: EmulatorState, form: dict[str, str], base_url: str) -> Page:
    app = _find_app(state, form.get("application_id", ""))
    if app is None:
        return error_page("MD1000", "The application id is not valid.")
    return _to_login_uri(state, app, base_url, _default_account(state, app))


def _eligible_accounts(state: EmulatorState, app: EmulatedApp) -> list[tuple[str, str]]:
    vendor = app.kind == "vendor"
    with state.lock:
        return [
            (a.selling_partner_id, a.name) for a in state.accounts.values() if a.vendor == vendor
        ]


def _default_account(state: EmulatorState, app: EmulatedApp) -> str | None:
    if state.auto_approve:
        return state.auto_approve
    accounts = _eligible_accounts(state, app)
    return accounts[0][0] if len(accounts) == 1 else None


def _consent_page(
    state: EmulatorState,
    app: EmulatedApp,
    app_state: str,
    redirect_uri: str,
    *,
    only: str | None = None,
) -> Page:
    accounts = [a for a in _eligible_accounts(state, app) if only is None or a[0] == only]
    if state.auto_approve:
        return _approve(state, app, only or state.auto_approve, app_state, redirect_uri)
    if not accounts:
        return error_page("MD9999", "No account can authorize this app.")
    options = "".join(
        f"<option value='{html.escape(sp)}'>{html.escape(name)} ({html.escape(sp)})</option>"
        for sp, name in accounts
    )
    hidden = "".join(
        f"<input type=hidden name='{k}' value='{html.escape(v, quote=True)}'>"
        for k, v in (
            ("application_id", app.app_id),
            ("state", app_state),
            ("redirect_uri", redirect_uri),
        )
    )
    body = (
        f"<p><b>{html.escape(app.name)}</b> would like to access your selling account.</p>"
        f"<form method=post action='{DECIDE_PATH}'>{hidden}"
        f"<p><label>Account <select name=selling_partner_id id=account>{options}"
        "</select></label></p>"
        "<p><button type=submit name=decision value=approve id=approve>Confirm</button> "
        "<button type=submit name=decision value=deny id=deny>Cancel</button></p></form>"
    )
    return _page("Authorize app", body)


def _approve(
    state: EmulatorState, app: EmulatedApp, sp_id: str, app_state: str, redirect_uri: str
) -> Page:
    code = state.issue_code(app.client_id, redirect_uri, sp_id)
    return _redirect(
        _with_query(
            redirect_uri,
            {
                "state": app_state,
                "selling_partner_id": sp_id,
                "spapi_oauth_code": code,
            },
        )
    )


def decide(state: EmulatorState, form: dict[str, str]) -> Page:
    app_or_page = _check(state, {**form, "version": "beta"}, form.get("application_id", ""))
    if isinstance(app_or_page, Page):
        return app_or_page
    app = app_or_page
    redirect_uri = form.get("redirect_uri") or app.redirect_uris[0]
    app_state = form.get("state", "")
    if form.get("decision") != "approve":
        return _redirect(
            _with_query(
                redirect_uri,
                {
                    "state": app_state,
                    "error": "access_denied",
                    "error_description": "The user denied the authorization request",
                },
            )
        )
    sp_id = form.get("selling_partner_id", "")
    if sp_id not in {sp for sp, _ in _eligible_accounts(state, app)}:
        return error_page("MD9999", "Choose an account.")
    return _approve(state, app, sp_id, app_state, redirect_uri)
