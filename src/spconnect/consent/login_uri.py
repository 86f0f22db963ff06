"""Flows Amazon starts: the Login-URI address a browser landed on, read as hostile input.

The Appstore's "Authorize now", its draft test run and Seller Central's Re-Authorize (the
yearly renewal) send the browser to the app's Login URI with ``amazon_callback_uri``,
``amazon_state`` and ``selling_partner_id`` (``version=beta`` for drafts) when no
``spconnect login`` is waiting (amazon.md section 3). The relay page then shows the
person the command to run; ``spconnect login --from-url URL`` (or ``reauth``) reads that
address here and continues the hop with a fresh ``state`` of its own (flow.py).

The address comes from a web page anyone can link to, so it is read with the care of a
paste (paste.py): bounded in length, each value checked, every Amazon answer that is not
a Login-URI visit explained instead of used, and the hop's target checked against the
catalogue's Central hosts before anything starts (amazon/consent.py): never an open
redirect. The continued hop comes from the person (they gave the address), so it needs no
browser cookie (binding.py); the browser they then use brings the answer back to the
login as usual, through the login's start address or a paste.
"""

from __future__ import annotations

from dataclasses import dataclass

from spconnect.amazon import ids
from spconnect.amazon.consent import (
    UnsafeRedirect,
    callback_target,
    consent_error_in,
    explain_consent_error,
    login_uri_continuation,
)
from spconnect.consent.paste import is_amazons_own_page, parse_pasted
from spconnect.errors import UsageError
from spconnect.names import is_visible_ascii

# A real Login-URI address is a few hundred characters (the Login URI, a relative callback
# path with the application id, a state, a selling partner id); 8 KB leaves ample room and
# keeps a pasted megabyte from going further than this check.
MAX_ADDRESS_CHARS = 8 * 1024
MAX_VALUE_CHARS = 2048

WHAT_TO_GIVE = (
    "give the whole address your browser shows after Amazon sent it to the app's Login URI "
    "(the relay page shows it, with amazon_callback_uri=… and amazon_state=… in it)"
)


@dataclass(frozen=True)
class LoginUriVisit:
    """What Amazon sent to the Login URI (amazon.md section 3)."""

    amazon_callback_uri: str
    amazon_state: str
    selling_partner_id: str | None
    beta: bool  # version=beta: a draft app's flow, which the continuation must carry on

    @property
    def application_id(self) -> str | None:
        """The application id in the callback path (``/apps/authorize/confirm/<app id>``,
        as seen in the wild), when it has the shape of one."""
        last = self.amazon_callback_uri.partition("?")[0].rstrip("/").rpartition("/")[2]
        return last if ids.is_app_id(last) else None


def read_login_uri_address(text: str) -> LoginUriVisit:
    """The Login-URI visit in ``text`` (an address or its query); UsageError (exit 2)
    saying what the text is instead, never anything else."""
    if len(text) > MAX_ADDRESS_CHARS:
        raise UsageError(
            f"--from-url is {len(text)} characters long; a Login-URI address is far shorter",
            WHAT_TO_GIVE,
        )
    try:
        params = parse_pasted(text)
    except ValueError:
        params = None
    if params is None:
        known = explain_consent_error(text)
        if known:
            raise UsageError(
                f"that is Amazon's error {known.code}: {known.cause}", f"{known.advice}"
            )
        raise UsageError("--from-url is not an address spconnect can read", WHAT_TO_GIVE)
    known = consent_error_in(params)
    if known:
        raise UsageError(
            f"that address carries Amazon's error {known.code}: {known.cause}", known.advice
        )
    if "spapi_oauth_code" in params or "error" in params:
        raise UsageError(
            "that address is Amazon's answer at the end of a consent, not the Login-URI "
            "address where a flow Amazon started arrives",
            "paste it at the prompt of the `spconnect login` that is waiting for it; a new "
            "login cannot use an answer made for another one",
        )
    if "amazon_callback_uri" not in params or "amazon_state" not in params:
        if is_amazons_own_page(params):
            raise UsageError(
                "that is the address of Amazon's own page (a consent or error page), not the "
                "Login-URI address Amazon sends the browser to",
                WHAT_TO_GIVE,
            )
        raise UsageError(
            "that address has no amazon_callback_uri and amazon_state, which Amazon adds "
            "when it sends the browser to the app's Login URI",
            WHAT_TO_GIVE,
        )
    callback, amazon_state = params["amazon_callback_uri"], params["amazon_state"]
    if len(callback) > MAX_VALUE_CHARS or not is_visible_ascii(callback):
        raise UsageError(
            "the address's amazon_callback_uri is malformed (too long, or spaces or control "
            "characters)",
            WHAT_TO_GIVE,
        )
    if (
        not amazon_state
        or len(amazon_state) > MAX_VALUE_CHARS
        or not is_visible_ascii(amazon_state)
    ):
        raise UsageError(
            "the address's amazon_state is malformed (empty, too long, or spaces or control "
            "characters)",
            WHAT_TO_GIVE,
        )
    selling_partner_id = params.get("selling_partner_id") or None
    if selling_partner_id is not None:
        try:
            selling_partner_id = ids.check_selling_partner_id(selling_partner_id)
        except UsageError as error:
            raise UsageError(f"in that address, {error.message}", WHAT_TO_GIVE) from None
    return LoginUriVisit(
        callback, amazon_state, selling_partner_id, params.get("version") == "beta"
    )


def check_target(visit: LoginUriVisit, consent_base: str) -> None:
    """Refuse, before anything starts, a visit whose ``amazon_callback_uri`` is not on a
    Seller or Vendor Central host of the catalogue (relative: on ``consent_base``)."""
    try:
        callback_target(visit.amazon_callback_uri, consent_base)
    except UnsafeRedirect as exc:
        raise UsageError(
            f"spconnect will not continue that address: its amazon_callback_uri {exc.why}",
            "spconnect only sends a browser on to Amazon's Seller or Vendor Central; "
            + WHAT_TO_GIVE,
        ) from None
    except ValueError:
        raise UsageError(
            "spconnect will not continue that address: its amazon_callback_uri is malformed",
            WHAT_TO_GIVE,
        ) from None


def continuation(
    visit: LoginUriVisit, *, state: str, redirect_uri: str, draft: bool, consent_base: str
) -> str:
    """The address that continues Amazon's flow with this login's fresh ``state``."""
    return login_uri_continuation(
        amazon_callback_uri=visit.amazon_callback_uri,
        amazon_state=visit.amazon_state,
        state=state,
        redirect_uri=redirect_uri,
        draft=draft or visit.beta,
        consent_base=consent_base,
    )
