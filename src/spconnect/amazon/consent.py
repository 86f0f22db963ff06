"""The website authorization workflow's URLs and codes (amazon.md sections 2, 3 and 10)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urljoin, urlsplit

from spconnect.amazon.marketplaces import Marketplace, central_hosts, central_url

CONSENT_PATH = "/apps/authorize/consent"
# At least 128 random bits (design, "Getting the consent answer back").
STATE_RANDOM_BYTES = 18
_STATE = re.compile(r"(\d{1,5})\.[A-Za-z0-9_-]{22,}")


def make_state(port: int) -> str:
    """``<port>.<random>``: the relay page reads the port; the random part is the secret."""
    return f"{port}.{secrets.token_urlsafe(STATE_RANDOM_BYTES)}"


def port_of_state(state: str) -> int | None:
    match = _STATE.fullmatch(state)
    if not match:
        return None
    port = int(match.group(1))
    return port if 0 < port < 65536 else None


def consent_url(
    *,
    app_id: str,
    marketplace: Marketplace,
    state: str,
    redirect_uri: str,
    draft: bool,
    vendor: bool = False,
) -> str:
    """``{central}/apps/authorize/consent?application_id=…&state=…[&version=beta]&redirect_uri=…``

    ``version=beta`` for draft apps (else MD1000); ``redirect_uri`` always, since Amazon
    otherwise picks the first registered one (amazon.md section 2).
    """
    query = {"application_id": app_id, "state": state}
    if draft:
        query["version"] = "beta"
    query["redirect_uri"] = redirect_uri
    return f"{central_url(marketplace, vendor)}{CONSENT_PATH}?{urlencode(query)}"


def login_uri_continuation(
    *,
    amazon_callback_uri: str,
    amazon_state: str,
    state: str,
    redirect_uri: str,
    draft: bool,
    consent_base: str,
) -> str:
    """Where the Login-URI hop sends the browser next (amazon.md section 3): the checked
    ``amazon_callback_uri`` (see ``callback_target``) with ``amazon_state`` unchanged, our
    ``state``, our ``redirect_uri`` and ``version=beta`` for drafts."""
    target = callback_target(amazon_callback_uri, consent_base)
    query = {"amazon_state": amazon_state, "state": state, "redirect_uri": redirect_uri}
    if draft:
        query["version"] = "beta"
    separator = "&" if urlsplit(target).query else "?"
    return f"{target}{separator}{urlencode(query)}"


def callback_target(amazon_callback_uri: str, consent_base: str) -> str:
    """The address ``amazon_callback_uri`` names, resolved and checked.

    It has been seen relative: it is resolved against the consent host. The target must
    be https on a Seller/Vendor Central host from the catalogue, or on the
    ``SPCONNECT_CENTRAL_URL`` origin when set: never an open redirect. Raises
    UnsafeRedirect (or urllib's ValueError for an address it cannot read).
    """
    target = urljoin(consent_base.rstrip("/") + "/", amazon_callback_uri)
    # The result goes into a Location header: control characters (CR, LF) and non-ASCII
    # are percent-encoded, so it stays one header line (no response splitting) and one
    # URL; existing escapes ('%') and the URL's own delimiters are kept as they are.
    target = quote(target, safe="!#$%&'()*+,/:;=?@[]~")
    check_central_target(target, consent_base)
    return target


class UnsafeRedirect(ValueError):
    """The Login-URI hop pointed somewhere that is not Amazon's Central."""

    def __init__(self, target: str, why: str) -> None:
        super().__init__(f"refusing to forward to {target!r}: {why}")
        self.why = why  # without the whole target: short enough for any message


def check_central_target(target: str, consent_base: str) -> None:
    import os

    parts = urlsplit(target)
    origin = f"{parts.scheme}://{parts.netloc}"[:100]
    override = os.environ.get("SPCONNECT_CENTRAL_URL")
    if override:
        allowed = urlsplit(override)
        if (parts.scheme, parts.netloc) == (allowed.scheme, allowed.netloc):
            return
        raise UnsafeRedirect(target, f"points to {origin!r}, not to {override}")
    if parts.scheme != "https" or parts.hostname is None:
        raise UnsafeRedirect(target, f"points to {origin!r}, which is not https")
    if parts.port not in (None, 443) or parts.username or parts.password:
        raise UnsafeRedirect(target, f"points to {origin!r}, with an unexpected port or user")
    if parts.hostname not in central_hosts():
        raise UnsafeRedirect(
            target, f"points to {origin!r}, which is not a Seller or Vendor Central"
        )


@dataclass(frozen=True)
class ConsentError:
    code: str
    cause: str
    advice: str


# amazon.md section 10.
CONSENT_ERRORS = {
    e.code: e
    for e in (
        ConsentError(
            "MD1000",
            "a draft app without version=beta, or the LWA client id used as application id",
            "mark the app as draft (`app add --draft`) or check "
            "its application id (amzn1.sp.solution.…)",
        ),
        ConsentError(
            "MD5101",
            "the redirect URI is not registered for the app",
            "register exactly the redirect URI spconnect printed, in Developer Central",
        ),
        ConsentError("MD5110", "the redirect URI contains a #fragment", "remove the fragment"),
        ConsentError(
            "MD5100",
            "the app lacks a Login URI and/or Redirect URI",
            "register both in Developer Central (both are required)",
        ),
        ConsentError(
            "MD9100",
            "the app lacks a Login URI and/or Redirect URI",
            "register both in Developer Central (both are required)",
        ),
        ConsentError(
            "MD9000",
            "the developer is not eligible for new authorizations (app submitted, not published)",
            "use a draft app (version=beta) or finish publishing",
        ),
        ConsentError(
            "MD9999",
            "a generic error, often a published app still using draft settings",
            "check --draft/--published and the URIs",
        ),
        ConsentError(
            "SPDC8143",
            "a secondary Seller Central user tried to authorize",
            "sign in as the account's primary user",
        ),
        ConsentError(
            "MD9010",
            "the developer has no MWS/SP-API developer id in the region of this Seller or "
            "Vendor Central",
            "register as a developer in that region (Developer Central), or authorize "
            "through a marketplace of a region where you are registered",
        ),
        ConsentError(
            "CONSENT_LIMIT_REACHED",
            "the app reached its authorization limit (an unlisted public app: 25 seller "
            "authorizations; 10 self-authorizations)",
            "list the app in the Appstore, or revoke authorizations that are no longer used",
        ),
    )
}
_ERROR_CODE = re.compile(r"\b(MD\d{4}|SPDC\d{4}|CONSENT_LIMIT_REACHED)\b")
# Values Amazon or spconnect make at random (or that name things): a consent error code
# found in them would be chance, not Amazon's answer.
_OPAQUE_PARAMETERS = frozenset(
    {
        "state",
        "amazon_state",
        "spapi_oauth_code",
        "mws_auth_token",
        "selling_partner_id",
        "application_id",
        "redirect_uri",
        "amazon_callback_uri",
    }
)


def explain_consent_error(text: str) -> ConsentError | None:
    """The known consent-page error code mentioned in ``text``, if any."""
    match = _ERROR_CODE.search(text)
    if not match:
        return None
    code = match.group(1)
    return CONSENT_ERRORS.get(
        code,
        ConsentError(
            code, "an Amazon consent-page error", "see Amazon's authorization troubleshooting"
        ),
    )


def consent_error_in(params: dict[str, str]) -> ConsentError | None:
    """The consent error code an answer carries in any of its descriptive parameters
    (``error``, ``error_description`` or another name), if any (amazon.md section 10)."""
    for name, value in params.items():
        if name not in _OPAQUE_PARAMETERS:
            known = explain_consent_error(value)
            if known:
                return known
    return None
