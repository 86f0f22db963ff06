"""The pages a browser sees from spconnect: small, self-contained HTML (no external
resources), readable on a phone, telling the person what to do next. Everything echoed is
escaped; no page ever contains a code or a token."""

from __future__ import annotations

import html

# Sent with every page (design, "The listener"): no referrer (the URL carries state and
# code), no caching, and a CSP that allows nothing but the page's own inline style.
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

_STYLE = (
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;"
    "padding:2rem 1rem;background:#f6f7f9;color:#1d2329}"
    "main{max-width:34rem;margin:auto;background:#fff;border-radius:12px;padding:1.5rem;"
    "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    "h1{font-size:1.3rem;margin-top:0}.ok{color:#1a7f37}.bad{color:#b42318}"
    "code,textarea{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem}"
    "textarea{width:100%;box-sizing:border-box;min-height:6rem}"
)


def page(title: str, body_html: str, *, tone: str = "", style: str = "") -> bytes:
    """A complete page; ``body_html`` must already be escaped by the caller, and
    ``style`` is CSS added to the page's own."""
    heading = (
        f'<h1 class="{tone}">{html.escape(title)}</h1>'
        if tone
        else f"<h1>{html.escape(title)}</h1>"
    )
    document = (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        "<meta name=referrer content=no-referrer>"
        f"<title>{html.escape(title)} - spconnect</title><style>{_STYLE}{style}</style></head>"
        f"<body><main>{heading}{body_html}</main></body></html>"
    )
    return document.encode("utf-8")


def success_page(selling_partner_id: str | None) -> bytes:
    account = (
        f" for account <code>{html.escape(selling_partner_id)}</code>" if selling_partner_id else ""
    )
    return page(
        "Authorization received",
        f"<p>spconnect received Amazon's answer{account} and is finishing the login in "
        "your terminal.</p><p>You can close this tab.</p>",
        tone="ok",
    )


def failure_page(reason: str, advice: str) -> bytes:
    return page(
        "Authorization not completed",
        f"<p>{html.escape(reason)}</p><p>{html.escape(advice)}</p>"
        "<p>The terminal shows the same message.</p>",
        tone="bad",
    )


def wrong_state_page() -> bytes:
    return page(
        "This answer does not belong to the current login",
        "<p>The address carries no <code>state</code>, or one that spconnect did not make "
        "for the login now waiting in your terminal. It may come from an older attempt or "
        "another window.</p><p>Nothing was changed. Open the consent address that the "
        "terminal printed and approve again.</p>",
        tone="bad",
    )


def hop_refused_page() -> bytes:
    # No state, no echo of the request: this page is what an unauthenticated local
    # request gets instead of the hop's redirect (issue 8, section 1).
    return page(
        "spconnect will not continue this login in this browser",
        "<p>Amazon sent this browser to the app's Login URI, but this browser did not open "
        "the address that <code>spconnect login</code> printed, so spconnect cannot tell it "
        "from another program asking in its place. Nothing was changed; the login in your "
        "terminal keeps waiting.</p><p>To continue here, copy this page's address from the "
        "address bar and paste it into that terminal. Or open the address the terminal "
        "printed, in this browser.</p><p>If Amazon sent you here by itself (Authorize now, "
        "Re-Authorize) for another account than that login's, run <code>spconnect login "
        "--from-url</code> (or <code>spconnect reauth -p PROFILE --from-url</code>) with this "
        "page's address instead, once that login has ended.</p>",
        tone="bad",
    )


def unknown_start_page() -> bytes:
    return page(
        "This start address is not the current login's",
        "<p>It may come from an older <code>spconnect login</code>. Nothing was changed. "
        "Open the address printed by the login now waiting in your terminal.</p>",
        tone="bad",
    )


def waiting_page() -> bytes:
    return page(
        "spconnect is waiting",
        "<p>spconnect is waiting for Amazon's answer on this address. Open the consent "
        "address printed in your terminal to continue.</p>",
    )


def bad_request_page() -> bytes:
    return page(
        "Not a request spconnect can read",
        "<p>spconnect only reads Amazon's answer on this address. Nothing was changed; "
        "the login in your terminal keeps waiting.</p>",
        tone="bad",
    )


def not_found_page() -> bytes:
    return page("Not found", "<p>spconnect only answers its callback address.</p>")
