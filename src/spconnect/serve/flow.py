"""The seller's path through the invite server, as plain functions of a request's values.

    GET  /i/<id>          the invite page (app, account kind, marketplace, note, expiry)
    POST /i/<id>          a fresh single-use state bound to the invite and to this
                          browser (a cookie), then 303 to Seller/Vendor Central's consent
    Login URI             Amazon's hop (amazon.md section 3), continued for the browser
                          that started a consent; open enrollment for hops without one
    Redirect URI          the answer: state spent, code exchanged at once, the refresh
                          token sealed to the developer's key, the invite connected

Each returns a ``Reply`` (status, page, redirect, cookie); app.py turns it into HTTP and
runs it on a worker thread, since the storage and the LWA exchange block.

Why each rule holds:

- ``state`` is 192 random bits, stored hashed, bound to the invite and to the browser
  cookie, spent by the database at most once, and lives ``state_lifetime`` seconds
  (amazon.md section 2: unguessable, single use, short-lived). A leaked state is useless
  in another browser, and a second answer with it changes nothing.
- The Login-URI hop carries no state of ours, and its redirect must carry one: it is
  continued only for a browser whose cookie started a live consent, with a fresh state
  that replaces the old (the same reasoning as consent/binding.py for the local login).
- Redirects go only to the consent URL built from the catalogue, or to an
  ``amazon_callback_uri`` checked against the catalogue's Central hosts
  (amazon/consent.py): never an open redirect.
- A reauth invite (or any invite naming the expected selling partner) refuses another
  account before its code is exchanged, as ``login --expect-seller`` does.
- The code is exchanged at once (it lives 5 minutes, amazon.md section 1); the refresh
  token is sealed (sealing.py) and only the sealed text is stored; the code and both
  tokens are forgotten by this process when the request ends.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from spconnect.amazon import ids
from spconnect.amazon.consent import (
    UnsafeRedirect,
    callback_target,
    consent_error_in,
    consent_url,
    login_uri_continuation,
)
from spconnect.amazon.lwa import LwaClient, TokenGrant
from spconnect.amazon.marketplaces import (
    MARKETPLACES,
    Marketplace,
    by_id,
    central_hosts,
    central_url,
    resolve_marketplace,
)
from spconnect.errors import AmazonUnavailable, ClientRejected, SpconnectError, StorageUnavailable
from spconnect.names import is_profile_name, is_visible_ascii
from spconnect.redaction import forget_secret, one_line
from spconnect.serve import pages, sealing
from spconnect.serve.settings import ServeSettings
from spconnect.serve.storage import (
    CONNECTED,
    EXPIRED,
    FAILED,
    PENDING,
    PULLED,
    REVOKED,
    Invite,
    Storage,
)

INVITE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_BROWSER_COOKIE = re.compile(r"[A-Za-z0-9_-]{43}")
# amazon.md section 3: a Login-URI visit's values; the same bound as login_uri.py's.
MAX_VALUE_CHARS = 2048
COOKIE_LIFETIME = 24 * 3600  # a browser's mark; each state it starts lives far shorter
# Open-enrollment entries are connected at once; this expiry only bounds the row's
# life if nobody pulls it (the blob stays sealed either way).
OPEN_ENTRY_LIFETIME = 30 * 24 * 3600


def new_invite_id() -> str:
    """128 random bits, URL-safe (the link is the seller's key), never starting with
    "-": the id is also a command-line argument (``spconnect invite revoke ID``), where a
    leading "-" reads as an option, as it did for one id in 64."""
    while (invite_id := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return invite_id


def iso(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def cookie_name(secure: bool) -> str:
    # __Host-: the browser accepts it only with Secure, Path=/ and no Domain, so no
    # sibling subdomain can plant or shadow it (RFC 6265bis section 4.1.3.2).
    return "__Host-spconnect" if secure else "spconnect"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    location: str | None = None
    set_cookie: str | None = None
    # Where the page's form may go (CSP form-action), beyond the page's own origin.
    form_targets: tuple[str, ...] = ()


def _page(status: int, body: bytes) -> Reply:
    return Reply(status, body)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class InviteService:
    """Everything a seller's browser can ask of the server."""

    def __init__(
        self,
        settings: ServeSettings,
        storage: Storage,
        lwa: LwaClient,
        client_secret: str,
        *,
        open_enrollment_marketplace: Marketplace | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.lwa = lwa
        self._client_secret = client_secret
        self.open_enrollment_marketplace = open_enrollment_marketplace or resolve_marketplace("US")
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    # -- the browser's mark -------------------------------------------------------------

    def browser_of(self, cookies: Mapping[str, str]) -> str | None:
        value = cookies.get(cookie_name(self.settings.secure), "")
        return value if _BROWSER_COOKIE.fullmatch(value) else None

    def _mark(self, browser: str) -> str:
        """The Set-Cookie value: HttpOnly (no script needs it), SameSite=Lax (sent on the
        top-level navigations Amazon's redirects are, not on other sites' requests),
        Secure on https, Path=/ since the Login and Redirect URIs have their own paths."""
        attributes = [
            f"{cookie_name(self.settings.secure)}={browser}",
            "Path=/",
            f"Max-Age={COOKIE_LIFETIME}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if self.settings.secure:
            attributes.append("Secure")
        return "; ".join(attributes)

    # -- the invite page ----------------------------------------------------------------

    def _current(self, invite_id: str) -> Invite | None:
        if not INVITE_ID.fullmatch(invite_id):
            return None
        invite = self.storage.invite(invite_id)
        if invite is not None and invite.status == PENDING and invite.expires_at <= self.now():
            self.storage.expire_due(self.now())
            invite = self.storage.invite(invite_id)
        return invite

    def _unusable(self, invite: Invite | None) -> Reply | None:
        """The page for an invite that cannot start a consent, or None."""
        if invite is None:
            return _page(
                404,
                pages.unusable_invite_page(
                    "This invite link is not valid",
                    "The address may be incomplete or mistyped.",
                ),
            )
        if invite.status == PENDING:
            return None
        title, reason = {
            EXPIRED: (
                "This invite has expired",
                f"It was valid until {pages.when(invite.expires_at)}.",
            ),
            REVOKED: ("This invite was withdrawn", "Whoever sent it withdrew it."),
            CONNECTED: (
                "This invite was already used",
                "An Amazon account was connected with it.",
            ),
            PULLED: ("This invite was already used", "An Amazon account was connected with it."),
            FAILED: (
                "This invite can no longer be used",
                "An earlier attempt with it did not complete.",
            ),
        }.get(invite.status, ("This invite cannot be used", "Its state is unknown."))
        return _page(410, pages.unusable_invite_page(title, reason))

    def _gone(self, invite: Invite | None) -> Reply:
        """The page for an invite that is no longer pending."""
        return self._unusable(invite) or _page(
            410, pages.unusable_invite_page("This invite was already used", "")
        )

    def show_invite(self, invite_id: str) -> Reply:
        invite = self._current(invite_id)
        refusal = self._unusable(invite)
        if refusal is not None:
            return refusal
        assert invite is not None
        marketplace, vendor = self._marketplace(invite), invite.kind == "vendor"
        central = central_url(marketplace, vendor)
        body = pages.invite_page(
            app_name=self.settings.shown_name,
            app_id=self.settings.app_id,
            vendor=vendor,
            marketplace=f"{marketplace.country} ({marketplace.code})",
            central_host=urlsplit(central).netloc,
            note=invite.note,
            expires_at=invite.expires_at,
            expected_selling_partner_id=invite.expected_selling_partner_id,
            reauth=invite.reauth,
            action=f"/i/{invite.id}",
        )
        return Reply(200, body, form_targets=(_origin(central),))

    def _marketplace(self, invite: Invite) -> Marketplace:
        found = by_id(invite.marketplace or "")
        return found if found is not None else self.open_enrollment_marketplace

    def start(self, invite_id: str, browser: str | None) -> Reply:
        """POST /i/<id>: a fresh state for this invite and browser, then Amazon."""
        invite = self._current(invite_id)
        refusal = self._unusable(invite)
        if refusal is not None:
            return refusal
        assert invite is not None
        browser = browser or secrets.token_urlsafe(32)
        state = secrets.token_urlsafe(24)
        now = self.now()
        self.storage.add_state(state, invite.id, browser, now, now + self.settings.state_lifetime)
        location = consent_url(
            app_id=self.settings.app_id,
            marketplace=self._marketplace(invite),
            state=state,
            redirect_uri=self.settings.redirect_uri,
            draft=self.settings.draft,
            vendor=invite.kind == "vendor",
        )
        return Reply(303, location=location, set_cookie=self._mark(browser))

    # -- the Login and Redirect URIs ----------------------------------------------------

    def visit(self, params: Mapping[str, str], browser: str | None, referer: str = "") -> Reply:
        """A request on the app's Login URI or Redirect URI (the same path may be both):
        a hop when Amazon's hop parameters are there, else an answer."""
        if "amazon_callback_uri" in params and "amazon_state" in params:
            return self._hop(params, browser, referer)
        if {"state", "spapi_oauth_code", "error"} & params.keys():
            return self._answer(params, browser)
        return _page(200, pages.answer_expected_page())

    def _hop(self, params: Mapping[str, str], browser: str | None, referer: str) -> Reply:
        callback, amazon_state = params["amazon_callback_uri"], params["amazon_state"]
        for value in (callback, amazon_state):
            if not value or len(value) > MAX_VALUE_CHARS or not is_visible_ascii(value):
                return _page(
                    400, pages.hop_refused_page("Amazon's address is incomplete or malformed.")
                )
        now = self.now()
        live = self.storage.live_state_of(browser, now) if browser else None
        invite = self.storage.invite(live[1]) if live and live[1] else None
        if invite is not None:
            refusal = self._unusable(self._current(invite.id))
            if refusal is not None:
                return refusal
            marketplace, vendor = self._marketplace(invite), invite.kind == "vendor"
        elif self.settings.open_enrollment:
            vendor = self.settings.kind == "vendor"
            marketplace = self._marketplace_of_referer(referer, vendor)
            if self.storage.newest_key() is None:
                return _page(503, pages.unavailable_page())
        else:
            return _page(403, pages.needs_invite_page(self.settings.shown_name))
        consent_base = central_url(marketplace, vendor)
        try:
            callback_target(callback, consent_base)
        except UnsafeRedirect as exc:
            return _page(400, pages.hop_refused_page(f"Amazon's address {exc.why}."))
        except ValueError:
            return _page(400, pages.hop_refused_page("Amazon's address is malformed."))
        browser = browser or secrets.token_urlsafe(32)
        state = secrets.token_urlsafe(24)
        added = self.storage.add_state(
            state,
            invite.id if invite else None,
            browser,
            now,
            now + self.settings.state_lifetime,
            marketplace=None if invite else marketplace.marketplace_id,
            replaces_hash=live[0] if live else None,
        )
        if not added:  # the consent this browser started was just answered elsewhere
            return _page(409, pages.foreign_answer_page("This sign-in was already answered."))
        location = login_uri_continuation(
            amazon_callback_uri=callback,
            amazon_state=amazon_state,
            state=state,
            redirect_uri=self.settings.redirect_uri,
            # Amazon marks a draft's flow with version=beta on the hop (amazon.md 3).
            draft=self.settings.draft or params.get("version") == "beta",
            consent_base=consent_base,
        )
        return Reply(302, location=location, set_cookie=self._mark(browser))

    def _marketplace_of_referer(self, referer: str, vendor: bool) -> Marketplace:
        """For a flow Amazon started (no invite): relative Amazon addresses resolve on the
        Central the browser came from, when its Referer names a catalogue host of the
        app's kind; else on the configured marketplace's."""
        try:
            parts = urlsplit(referer)
        except ValueError:
            return self.open_enrollment_marketplace
        if parts.scheme == "https" and parts.hostname in central_hosts():
            for marketplace in MARKETPLACES:
                central = marketplace.vendor_central if vendor else marketplace.seller_central
                if central and parts.hostname == urlsplit(central).hostname:
                    return marketplace
        return self.open_enrollment_marketplace

    def _answer(self, params: Mapping[str, str], browser: str | None) -> Reply:
        state = params.get("state", "")
        if not state or len(state) > MAX_VALUE_CHARS:
            # Not bound to any invite, so nothing changes; an Amazon error is still worth
            # explaining to whoever landed here (amazon.md section 10).
            return (
                self._refused(None, params, self.now())
                if params.get("error")
                else _page(400, pages.foreign_answer_page("Amazon's answer carries no state."))
            )
        if browser is None:
            return _page(
                400,
                pages.foreign_answer_page(
                    "This answer reached a browser that did not start the authorization."
                ),
            )
        now = self.now()
        check = self.storage.spend_state(state, browser, now)
        if check.outcome != "ok":
            return self._not_spent(check.outcome, check.invite_id)
        # _current: an invite past its expiry is expired here, whether or not a listing
        # marked it meanwhile, so one that expired while the seller was at Amazon never
        # connects (the hop refuses it the same way).
        invite = self._current(check.invite_id) if check.invite_id else None
        if check.invite_id is not None and (invite is None or invite.status != PENDING):
            return self._gone(invite)
        code = params.get("spapi_oauth_code", "")
        if not code:
            return self._refused(invite, params, now)
        try:
            selling_partner_id = ids.check_selling_partner_id(
                params.get("selling_partner_id", "")[:64]
            )
        except SpconnectError:
            return self._fail(
                invite,
                now,
                "Amazon's answer names no valid selling partner id",
                "Amazon's answer was incomplete.",
                "Open your invite link again; if it repeats, tell whoever sent it.",
            )
        expected = invite.expected_selling_partner_id if invite else None
        if expected is not None and selling_partner_id != expected:
            return self._fail(
                invite,
                now,
                f"wrong seller for a reauth: Amazon authorized {selling_partner_id}, the invite "
                f"is for {expected}; the code was not exchanged",
                f"You signed in as account {selling_partner_id}, but this invite renews the "
                f"authorization of account {expected}. Nothing was stored.",
                f"Ask for a new invite link and sign in to Amazon as {expected} (sign out of "
                "Seller Central first, or choose that account on Amazon's page).",
            )
        return self._exchange(invite, code, selling_partner_id, check.marketplace, now)

    def _not_spent(self, outcome: str, invite_id: str | None) -> Reply:
        if outcome == "used" and invite_id is not None:
            invite = self.storage.invite(invite_id)
            # A reload of the answer in the browser that completed it.
            if invite is not None and invite.status in (CONNECTED, PULLED):
                sp_id = invite.selling_partner_id or "?"
                return _page(200, pages.connected_page(self.settings.shown_name, sp_id))
        reason = {
            "used": "This answer was already received; each one counts once.",
            "expired": "This answer came too late: the sign-in it belongs to has expired.",
            "other_browser": "This answer belongs to a sign-in started in another browser.",
        }.get(outcome, "This answer does not belong to a sign-in started here.")
        return _page(400, pages.foreign_answer_page(reason))

    def _refused(self, invite: Invite | None, params: Mapping[str, str], now: int) -> Reply:
        """Amazon answered without a code (amazon.md sections 3 and 10)."""
        error = params.get("error", "")
        description = params.get("error_description", "")
        said = one_line(": ".join(p for p in (error, description) if p), 200) or "no code"
        known = consent_error_in(dict(params))
        if error == "access_denied":
            return self._fail(
                invite,
                now,
                f"consent refused ({said})",
                "You chose not to authorize the app, so nothing was connected.",
                "If that was a mistake, ask whoever sent you the link for a new one.",
            )
        if known is not None:
            return self._fail(
                invite,
                now,
                f"Amazon answered {known.code}: {known.cause} ({said})",
                f"Amazon stopped the authorization with error {known.code}: {known.cause}.",
                f"What helps: {known.advice}. If this is about the app's settings, forward "
                "this page to whoever sent you the link.",
            )
        return self._fail(
            invite,
            now,
            f"Amazon answered without an authorization code ({said})",
            f"Amazon answered without an authorization ({said}).",
            "Ask whoever sent you the link for a new one; if it repeats, forward this page.",
        )

    def _fail(
        self, invite: Invite | None, now: int, failure: str, reason: str, advice: str
    ) -> Reply:
        """The invite fails (audited, with ``failure`` for the developer); the seller
        reads ``reason`` and ``advice``. An open-enrollment consent leaves no entry."""
        if invite is not None:
            self.storage.change_status(
                invite.id,
                allowed=(PENDING,),
                to=FAILED,
                now=now,
                event="failed",
                detail=failure,
                failure=one_line(failure, 500),
            )
        return _page(400, pages.refused_page(reason, advice))

    def _exchange(
        self,
        invite: Invite | None,
        code: str,
        selling_partner_id: str,
        marketplace_id: str | None,
        now: int,
    ) -> Reply:
        grant: TokenGrant | None = None
        try:
            grant = self.lwa.exchange_code(
                code=code,
                redirect_uri=self.settings.redirect_uri,
                client_id=self.settings.client_id,
                client_secret=self._client_secret,
            )
            return self._store(invite, grant, selling_partner_id, marketplace_id, now)
        except AmazonUnavailable:
            # Amazon's own trouble, which passes: the invite stays usable (its state is
            # spent), and the seller can start again from the link.
            return _page(503, pages.unavailable_page())
        except ClientRejected as error:
            return self._fail(
                invite,
                now,
                f"code exchange failed: {error.message}",
                "Amazon refused the app's own credentials, so the authorization could not "
                "be completed. Nothing was stored.",
                "This is for the app's developer to fix; forward this page to whoever sent "
                "you the link.",
            )
        except StorageUnavailable:
            raise
        except SpconnectError as error:
            return self._fail(
                invite,
                now,
                f"code exchange failed: {error.message}",
                "Amazon did not accept the authorization (it may have been used already or "
                "taken longer than 5 minutes). Nothing was stored.",
                "Ask whoever sent you the link for a new one.",
            )
        finally:
            forget_secret(code)
            if grant is not None:
                forget_secret(grant.access_token)
                forget_secret(grant.refresh_token)

    def _store(
        self,
        invite: Invite | None,
        grant: TokenGrant,
        selling_partner_id: str,
        marketplace_id: str | None,
        now: int,
    ) -> Reply:
        assert grant.refresh_token is not None  # LwaClient checks the code grant's
        if invite is None:
            return self._enroll(grant.refresh_token, selling_partner_id, marketplace_id, now)
        key = self.storage.key(invite.key_id)
        if key is None:
            raise StorageUnavailable(f"the invite's key {invite.key_id} is missing")
        sealed = self._seal(key.public_key, grant.refresh_token, invite.id, selling_partner_id, now)
        if not self.storage.change_status(
            invite.id,
            allowed=(PENDING,),
            to=CONNECTED,
            now=now,
            event="connected",
            detail=f"selling partner {selling_partner_id}",
            unexpired=True,
            selling_partner_id=selling_partner_id,
            connected_at=now,
            sealed=sealed,
        ):
            # Another answer won meanwhile, or the invite was withdrawn or expired: this
            # token is dropped unstored.
            return self._gone(self._current(invite.id))
        return _page(200, pages.connected_page(self.settings.shown_name, selling_partner_id))

    def _enroll(
        self, refresh_token: str, selling_partner_id: str, marketplace_id: str | None, now: int
    ) -> Reply:
        """An open-enrollment consent (the Appstore, Re-Authorize): a connected entry,
        sealed to the newest key and named after the selling partner."""
        key = self.storage.newest_key()
        if key is None:
            return _page(503, pages.unavailable_page())
        invite_id = new_invite_id()
        profile = selling_partner_id if is_profile_name(selling_partner_id) else invite_id
        sealed = self._seal(key.public_key, refresh_token, invite_id, selling_partner_id, now)
        self.storage.add_invite(
            Invite(
                id=invite_id,
                key_id=key.id,
                profile=profile,
                marketplace=marketplace_id or self.open_enrollment_marketplace.marketplace_id,
                kind=self.settings.kind,
                created_at=now,
                expires_at=now + OPEN_ENTRY_LIFETIME,
                status=CONNECTED,
                selling_partner_id=selling_partner_id,
                connected_at=now,
                open_enrollment=True,
                sealed=sealed,
            ),
            "open_enrollment_connected",
            f"selling partner {selling_partner_id}",
        )
        return _page(200, pages.connected_page(self.settings.shown_name, selling_partner_id))

    def _seal(
        self, public_key: str, refresh_token: str, invite_id: str, selling_partner_id: str, now: int
    ) -> str:
        """docs/serve-api.md, "Sealing": the JSON object, bound to its context."""
        plaintext = json.dumps(
            {
                "refresh_token": refresh_token,
                "selling_partner_id": selling_partner_id,
                "client_id": self.settings.client_id,
                "invite": invite_id,
                "authorized_at": iso(now),
            },
            separators=(",", ":"),
        ).encode()
        context = sealing.invite_context(invite_id, selling_partner_id, self.settings.client_id)
        return sealing.seal(public_key, plaintext, context)
