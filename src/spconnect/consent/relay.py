"""The relay page: a static page the developer hosts at the app's registered https
Redirect URI (and Login URI), which sends the browser on to spconnect's loopback listener
with the query string unchanged. Amazon accepts only https redirect URIs and refuses
localhost (amazon.md section 3), so this page is the bridge.

Rules (design, "Getting the consent answer back", relay):
- the port comes from ``state`` (``<port>.<random>``), else the port baked in at
  generation (the app's ``callback_port``): the Login-URI hop carries no ``state``;
- it forwards only to ``http://127.0.0.1`` and only to a numeric port: not an open
  redirect;
- when the listener cannot be reached (the browser is on another machine), the person
  can paste the address into the terminal instead.

It forwards by top-level navigation and never probes the listener with fetch(): Chrome's
Local Network Access (Chrome 142 and later) puts a permission prompt in front of requests
from a public page to loopback, but not in front of top-level navigation. When the
listener cannot be reached, the browser's error page shows the loopback address, which
carries the whole answer and pastes just as well (the page and the terminal both say so).
Coming back to this page in the same tab (Firefox and Safari go Back to it; Chrome's
history intervention skips it) shows the address here instead of forwarding again.

The Login-URI hop (``amazon_callback_uri`` and ``amazon_state``, no ``state``) is not
forwarded by itself. Flows spconnect starts go from the consent page straight to the
Redirect URI; the hop comes from flows Amazon starts, the Appstore's Authorize now and
Seller Central's Re-Authorize (amazon.md section 3), where usually no login is waiting,
and without probing the page cannot know whether one is: a forward would usually end on
the browser's error page, which tells the person nothing about what to run (and Chrome's
Back skips this page). So the page shows what to run, ``spconnect login --from-url
'<this address>'`` or ``spconnect reauth -p PROFILE --from-url '<this address>'``, the
address itself (to paste into a login that is waiting), and a link that continues to a
login waiting on this computer (the listener answers it only for the browser that opened
the login's start address: binding.py). The address is single-quoted for the shell with
every ``'`` percent-encoded (browsers already encode it in a query), so copying the
command cannot run anything else.
"""

from __future__ import annotations

import base64
import hashlib
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spconnect.consent.pages import page
from spconnect.errors import UsageError

if TYPE_CHECKING:
    from spconnect.store.config import AppConfig

_SCRIPT = """
(function () {
  "use strict";
  var BAKED_PORT = %(port)d;
  var query = window.location.search;
  var box = document.getElementById("address");
  var waiting = document.getElementById("waiting");
  var manual = document.getElementById("manual");
  var empty = document.getElementById("empty");
  box.value = window.location.href;
  if (!query || query.length < 2) {
    waiting.hidden = true;
    empty.hidden = false;
    return;
  }
  var params = new URLSearchParams(query);
  var state = params.get("state") || "";
  var port = BAKED_PORT;
  var match = /^([0-9]{1,5})\\./.exec(state);
  if (match) {
    var candidate = parseInt(match[1], 10);
    if (candidate >= 1 && candidate <= 65535) { port = candidate; }
  }
  var target = "http://127.0.0.1:" + String(port) + "/callback" + query;
  document.getElementById("retry").href = target;
  if (!state && params.get("amazon_callback_uri") && params.get("amazon_state")) {
    var quoted = "'" + window.location.href.replace(/'/g, "%%27") + "'";
    document.getElementById("login-command").value = "spconnect login --from-url " + quoted;
    document.getElementById("reauth-command").value =
      "spconnect reauth -p PROFILE --from-url " + quoted;
    document.getElementById("continue").href = target;
    document.getElementById("retry-line").hidden = true;
    document.getElementById("continue-line").hidden = false;
    waiting.hidden = true;
    document.getElementById("hop").hidden = false;
    return;
  }
  var key = "spconnect-relayed:" + (state || params.get("amazon_state") || "");
  var relayedBefore = false;
  try { relayedBefore = window.sessionStorage.getItem(key) === "1"; } catch (e) {}
  if (relayedBefore) {
    waiting.hidden = true;
    manual.hidden = false;
    return;
  }
  try { window.sessionStorage.setItem(key, "1"); } catch (e) {}
  window.location.assign(target);
})();
""".strip()


def relay_page(callback_port: int) -> str:
    """The complete relay page, with ``callback_port`` baked in."""
    if not 1 <= callback_port <= 65535:
        raise ValueError("callback port out of range")
    script = _SCRIPT % {"port": callback_port}
    # A strict CSP for a page on the developer's own site: this exact script, inline
    # styles, nothing else (no network requests at all: connect-src falls to 'none').
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'"
    )
    body = (
        '<div id="waiting"><p>Returning you to <b>spconnect</b> on this computer…</p>'
        "<p>If your browser then says it cannot reach <code>127.0.0.1</code>, spconnect is "
        "running on another machine: copy the address from the address bar and paste it "
        "into the terminal; it carries Amazon's answer.</p></div>"
        '<div id="manual" hidden><p>spconnect could not be reached from this browser. '
        "Copy this address and paste it into the terminal where "
        "<code>spconnect login</code> is waiting:</p></div>"
        '<div id="empty" hidden><p>This page passes Amazon\'s authorization answer to '
        "spconnect. There is no answer in this address.</p></div>"
        '<div id="hop" hidden><p>Amazon sent you here to connect an account with '
        "<b>spconnect</b>: you chose <b>Authorize now</b> in the Appstore, or "
        "<b>Re-Authorize</b> in Manage Your Apps. To finish, run one of these in a terminal "
        "where spconnect is set up (on your developer's computer, if spconnect runs there: "
        "send them this page's address), then open the address it prints.</p>"
        "<p>To renew an account already connected (PROFILE: its name in "
        "<code>spconnect status</code>):</p>"
        '<p><textarea id="reauth-command" readonly aria-label="command to renew"></textarea></p>'
        "<p>To connect a new account:</p>"
        '<p><textarea id="login-command" readonly aria-label="command to connect"></textarea>'
        "</p><p>If a <code>spconnect login</code> is already waiting for this in a terminal, "
        "paste this address there instead:</p></div>"
        '<p><textarea id="address" readonly aria-label="address to paste"></textarea></p>'
        '<p id="retry-line"><a id="retry" href="#">Try spconnect on this computer again</a></p>'
        '<p id="continue-line" hidden>Or, if that login runs on this computer and you '
        'opened its address in this browser: <a id="continue" href="#">continue to it</a>.'
        "</p>"
        f"<script>{script}</script>"
    )
    document = page("spconnect", body).decode()
    meta = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp, quote=False)}">'
    return document.replace("<meta charset=utf-8>", f"<meta charset=utf-8>{meta}", 1)


@dataclass(frozen=True)
class RelayPage:
    html: str
    steps: str  # how to host and register it, for this app (a pip install has no examples/)


def relay_page_for(app_name: str, app: AppConfig) -> RelayPage:
    """The relay page of an app and the steps to put it in place.

    An app whose redirect URI resolves to this machine is served by `spconnect login`
    itself (local https mode): a page hosted there would never be reached, so it is
    refused with the reason rather than written (issue 9, item 11).
    """
    from spconnect.consent.tls import local_https

    if local_https(app.redirect_uri) is not None:
        raise UsageError(
            f"app {app_name!r} needs no relay page: its redirect URI {app.redirect_uri} "
            "resolves to this machine, where `spconnect login` serves it itself (local "
            "https mode)",
            "a relay page is for a public https address you host; register one as Redirect "
            "and Login URI in Developer Central and add it with `spconnect app add NAME "
            "--redirect-uri URL --login-uri URL ...`",
        )
    login_uri = app.login_uri or app.redirect_uri
    where = (
        app.redirect_uri
        if login_uri == app.redirect_uri
        else f"{app.redirect_uri} and at {login_uri} (its Login URI)"
    )
    register = (
        f"{login_uri} as both the OAuth Redirect URI and the OAuth Login URI"
        if login_uri == app.redirect_uri
        else f"{app.redirect_uri} as OAuth Redirect URI and {login_uri} as OAuth Login URI"
    )
    steps = (
        f"Relay page for app {app_name!r}: it sends the browser to spconnect on 127.0.0.1, "
        f"on the port in Amazon's state, else port {app.callback_port}.\n"
        f"1. Host it at {where}, on any static https host: GitHub Pages (as index.html in "
        "the folder of that path), Amazon S3 behind CloudFront (Content-Type text/html), "
        "or your own site. Opened without a query, it says it has no answer to forward.\n"
        "2. In Developer Central (Apps and Services > Develop Apps > Edit App), register "
        f"{register} (Amazon needs both to save a published app).\n"
        f"3. Run `spconnect login --app {app_name}`. If the browser is on another machine, "
        "paste the address it lands on into the prompt.\n"
        "Write the page again after changing the app's callback port."
    )
    return RelayPage(relay_page(app.callback_port), steps)
