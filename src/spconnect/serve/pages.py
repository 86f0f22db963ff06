"""The pages a seller sees from the invite server, in the style of the local listener's
(consent/pages.py): small, self-contained, readable on a phone, everything echoed
escaped, never a code or a token. Unlike the listener's pages they speak to the seller,
who has no terminal: each says what happened and what, if anything, to do next.
"""

from __future__ import annotations

import datetime as dt
import html

from spconnect.consent.pages import page

_INVITE_STYLE = (
    "button{font:inherit;padding:.7rem 1.2rem;border:0;border-radius:8px;"
    "background:#1d4ed8;color:#fff;cursor:pointer}dl{display:grid;grid-template-columns:"
    "auto 1fr;gap:.3rem 1rem}dt{color:#57606a}dd{margin:0}.note{white-space:pre-wrap}"
)


def _e(text: object) -> str:
    return html.escape(str(text))


def when(timestamp: int) -> str:
    """A time a seller reads (UTC, to the minute)."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def invite_page(
    *,
    app_name: str,
    app_id: str,
    vendor: bool,
    marketplace: str,
    central_host: str,
    note: str | None,
    expires_at: int,
    expected_selling_partner_id: str | None,
    reauth: bool,
    action: str,
) -> bytes:
    central = "Vendor Central" if vendor else "Seller Central"
    account = "vendor" if vendor else "seller"
    renewal = (
        f"<p>This renews the authorization of account <code>{_e(expected_selling_partner_id)}"
        "</code>: sign in as that account.</p>"
        if reauth and expected_selling_partner_id
        else "<p>This renews an existing authorization.</p>"
        if reauth
        else ""
    )
    shown_note = f"<dt>Note</dt><dd class=note>{_e(note)}</dd>" if note else ""
    body = (
        f"<p>You were invited to authorize <b>{_e(app_name)}</b> to use Amazon's "
        f"Selling Partner API for your {account} account.</p>"
        f"<dl><dt>App</dt><dd>{_e(app_name)}<br><small><code>{_e(app_id)}</code></small></dd>"
        f"<dt>Account</dt><dd>Amazon {central}, {_e(marketplace)} (and the other "
        f"marketplaces of its region)</dd>{shown_note}"
        f"<dt>Link valid until</dt><dd>{_e(when(expires_at))}</dd></dl>{renewal}"
        f"<p>Continue to sign in at <code>{_e(central_host)}</code>, Amazon's own site, and "
        "confirm there. Amazon then sends you back here. This site never sees your Amazon "
        "password.</p>"
        f'<form method=post action="{_e(action)}"><button type=submit>Continue to Amazon'
        "</button></form>"
    )
    return page(f"Authorize {app_name}", body, style=_INVITE_STYLE)


def connected_page(app_name: str, selling_partner_id: str) -> bytes:
    return page(
        "Connected",
        f"<p>Amazon account <code>{_e(selling_partner_id)}</code> has authorized "
        f"<b>{_e(app_name)}</b>.</p><p>Nothing else is needed from you; you can close this "
        "tab. To withdraw the authorization later, remove the app in Amazon Seller Central "
        "under Apps and Services, Manage Your Apps.</p>",
        tone="ok",
    )


def _trouble(title: str, *paragraphs: str) -> bytes:
    """A page that reports a problem, one escaped paragraph per text."""
    return page(title, "".join(f"<p>{_e(text)}</p>" for text in paragraphs if text), tone="bad")


def unusable_invite_page(title: str, reason: str) -> bytes:
    return _trouble(
        title,
        reason,
        "Nothing was changed. If you still mean to authorize the app, ask whoever sent you "
        "the link for a new one.",
    )


def refused_page(reason: str, advice: str) -> bytes:
    return _trouble("Authorization not completed", reason, advice)


def foreign_answer_page(reason: str) -> bytes:
    return _trouble(
        "This answer cannot be used",
        reason,
        "Nothing was changed. Open your invite link again, in this browser, and continue "
        "from there.",
    )


def needs_invite_page(app_name: str) -> bytes:
    return _trouble(
        "An invite link is needed",
        f"Amazon sent you here to authorize {app_name}. This site connects accounts by "
        "invitation only.",
        "Nothing was changed. Ask the app's developer for an invite link and open it in this "
        "browser; it takes you through Amazon again.",
    )


def hop_refused_page(reason: str) -> bytes:
    return _trouble(
        "This address cannot be continued",
        reason,
        "Nothing was changed. This site only sends browsers on to Amazon's own Seller Central "
        "and Vendor Central.",
    )


def answer_expected_page() -> bytes:
    return page(
        "Nothing to do here",
        "<p>This address receives Amazon's answer after you authorize an app. Open your "
        "invite link to start.</p>",
    )


def unavailable_page() -> bytes:
    return _trouble(
        "Please try again in a few minutes",
        "Amazon's sign-in service or this site's database did not answer in time. Nothing "
        "was stored. Open your invite link again in a few minutes.",
    )


def status_page(title: str, text: str) -> bytes:
    """Not found, too many requests, too large, and the like."""
    return page(title, f"<p>{_e(text)}</p>")
