"""The emulated Tokens API: ``POST /tokens/2021-03-01/restrictedDataToken`` (amazon.md
section 9), and who is calling an SP-API operation: an access token or a restricted data
token (RDT), and which personal data the RDT unlocks for that request.

As Amazon does: an RDT is issued only for restricted operations (here the Orders API's),
only with the data elements the operation knows, for an hour (tests may shorten it:
``EmulatorState.restricted_token_lifetime``), answered as ``expiresIn``; it is sent in
``x-amz-access-token`` instead of the access token and is good only for the method and
path (specific, or generic with ``{orderId}``) it was issued for.
"""

from __future__ import annotations

import json
import re

from spconnect.emulator import throttle
from spconnect.emulator.sellers import Answer
from spconnect.emulator.state import Account, EmulatorState, RestrictedToken, _token

PATH = "/tokens/2021-03-01/restrictedDataToken"
_ORDER_ELEMENTS = frozenset({"buyerInfo", "shippingAddress", "buyerTaxInformation"})
# Restricted operations the emulator serves, with the data elements each accepts.
_RESTRICTED: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile(r"^/orders/v0/orders$"), _ORDER_ELEMENTS),
    (re.compile(r"^/orders/v0/orders/[^/]+$"), _ORDER_ELEMENTS),
    (re.compile(r"^/orders/v0/orders/[^/]+/orderItems$"), frozenset({"buyerInfo"})),
    (re.compile(r"^/orders/v0/orders/[^/]+/(address|buyerInfo)$"), frozenset()),
)


def error(
    status: int, code: str, message: str, details: str = "", headers: dict[str, str] | None = None
) -> Answer:
    """An answer in the SP-API's error format (amazon.md section 9)."""
    body: dict[str, object] = {"errors": [{"code": code, "message": message, "details": details}]}
    return Answer(status, body, headers or {})


def denied(details: str) -> Answer:
    return error(403, "Unauthorized", "Access to requested resource is denied.", details)


def caller(
    state: EmulatorState, token: str, method: str, path: str, *, vendors: bool = False
) -> tuple[Account, frozenset[str]] | Answer:
    """The seller account behind ``token`` (or vendor account, for operations that
    ``vendors`` may call) and the data elements it unlocks for this request, or the 403
    Amazon would send. Call with ``state.lock`` held."""
    restricted = state.restricted_tokens.get(token)
    if restricted is not None:
        if restricted.grant.revoked:
            return denied("The restricted data token you provided is revoked.")
        if state.now() >= restricted.expires_at:
            return denied("The restricted data token you provided has expired.")
        grant = restricted.grant
        unlocked = next(
            (
                elements
                for m, p, elements in restricted.resources
                if m == method and _covers(p, path)
            ),
            None,
        )
        if unlocked is None:
            return denied("The restricted data token was not issued for this operation.")
    else:
        issued = state.access_tokens.get(token)
        # A seller who removes the app revokes its access tokens with the refresh token:
        # Amazon's words for both (selling-partner-api-models issue 2333).
        if issued is None or issued[0].revoked:
            return denied("The access token you provided is revoked, malformed or invalid.")
        grant, expires_at, scope = issued
        if state.now() >= expires_at:
            return denied("The access token you provided has expired.")
        if scope is not None:
            return denied("A grantless token cannot call this operation.")
        unlocked = frozenset()
    account = state.accounts.get(grant.selling_partner_id or "")
    if account is None or (account.vendor and not vendors):
        return denied("This operation is not available to this selling partner.")
    return account, unlocked


def admit(
    state: EmulatorState,
    token: str,
    method: str,
    path: str,
    operation: str,
    *,
    vendors: bool = False,
) -> tuple[Account, throttle.Quota] | Answer:
    """The caller's account and the request the operation's bucket allowed (``caller``,
    then throttle.take), or the 403 or 429 Amazon would send. Call with ``state.lock``
    held."""
    who = caller(state, token, method, path, vendors=vendors)
    if isinstance(who, Answer):
        return who
    account, _ = who
    quota = throttle.take(state, operation, account.selling_partner_id)
    if not quota.allowed:
        return throttle.quota_exceeded(quota)
    return account, quota


def _covers(granted: str, path: str) -> bool:
    """A generic path (``/orders/v0/orders/{orderId}``) covers any one segment there."""
    pattern = "^" + re.sub(r"\\\{[^/]*\\\}", "[^/]+", re.escape(granted)) + "$"
    return re.match(pattern, path) is not None


def create_restricted_data_token(state: EmulatorState, token: str, raw_body: bytes) -> Answer:
    state.count("createRestrictedDataToken")
    with state.lock:
        admitted = admit(state, token, "POST", PATH, "createRestrictedDataToken")
        if isinstance(admitted, Answer):
            return admitted
        _, quota = admitted
        resources = _parse_resources(raw_body)
        if isinstance(resources, str):
            return error(400, "InvalidInput", resources, headers=quota.header)
        rdt = _token("Atz.sprdt|")
        grant = state.access_tokens[token][0]
        lifetime = state.restricted_token_lifetime
        state.restricted_tokens[rdt] = RestrictedToken(grant, state.now() + lifetime, resources)
    return Answer(200, {"restrictedDataToken": rdt, "expiresIn": lifetime}, quota.header)


def _parse_resources(raw_body: bytes) -> list[tuple[str, str, frozenset[str]]] | str:
    """The request's restrictedResources, or what is wrong with them."""
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        return "The request body is not valid JSON."
    items = body.get("restrictedResources") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= 50:
        return "restrictedResources must list 1 to 50 resources."
    resources = []
    for item in items:
        if not isinstance(item, dict):
            return "Each restricted resource must be an object."
        method, path = item.get("method"), item.get("path")
        elements = item.get("dataElements", [])
        if method not in ("GET", "PUT", "POST", "DELETE") or not isinstance(path, str):
            return "Each restricted resource needs a method and a path."
        if not isinstance(elements, list) or not all(isinstance(e, str) for e in elements):
            return "dataElements must be a list of strings."
        known = next((allowed for p, allowed in _RESTRICTED if p.match(path)), None)
        if known is None:
            return f"{path} is not a restricted resource."
        unknown = sorted(set(elements) - known)
        if unknown:
            return f"Invalid dataElements for {path}: {', '.join(unknown)}."
        resources.append((method, path, frozenset(elements)))
    return resources
