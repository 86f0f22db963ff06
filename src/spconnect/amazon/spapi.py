"""Calling the SP-API (amazon.md section 9): the Sellers API check that a token works.

``GET /sellers/v1/marketplaceParticipations`` (getMarketplaceParticipations) lists the
marketplaces the account takes part in. Its rate is about one call a minute (0.016 rps,
burst 15), so callers cache the answer. Errors quote ``x-amzn-RequestId``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from spconnect.amazon.lwa import user_agent
from spconnect.errors import (
    AmazonUnavailable,
    AuthorizationRejected,
    SpconnectError,
)
from spconnect.redaction import redact

PARTICIPATIONS_PATH = "/sellers/v1/marketplaceParticipations"


@dataclass(frozen=True)
class Participation:
    marketplace_id: str
    name: str
    country_code: str
    currency: str
    language: str
    domain: str
    participating: bool
    suspended_listings: bool
    store_name: str | None

    @classmethod
    def from_payload(cls, item: dict[str, object]) -> Participation:
        market = item.get("marketplace") or {}
        part = item.get("participation") or {}
        assert isinstance(market, dict) and isinstance(part, dict)
        store = item.get("storeName")
        return cls(
            marketplace_id=str(market.get("id", "")),
            name=str(market.get("name", "")),
            country_code=str(market.get("countryCode", "")),
            currency=str(market.get("defaultCurrencyCode", "")),
            language=str(market.get("defaultLanguageCode", "")),
            domain=str(market.get("domainName", "")),
            participating=bool(part.get("isParticipating", False)),
            suspended_listings=bool(part.get("hasSuspendedListings", False)),
            store_name=str(store) if store is not None else None,
        )


def _errors_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
    except ValueError:
        errors = None
    if not errors:
        return f"HTTP {response.status_code}"
    parts = []
    for error in errors:
        if isinstance(error, dict):
            text = ": ".join(str(error[k]) for k in ("code", "message", "details") if error.get(k))
            parts.append(text)
    return redact("; ".join(parts))


def marketplace_participations(
    endpoint: str,
    access_token: str,
    *,
    profile: str,
    timeout: float = 15.0,
    transport: httpx.BaseTransport | None = None,
) -> list[Participation]:
    """The account's marketplaces; errors carry the request id and what to do."""
    headers = {
        "x-amz-access-token": access_token,
        "user-agent": user_agent(),
        "accept": "application/json",
    }
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.get(endpoint.rstrip("/") + PARTICIPATIONS_PATH, headers=headers)
    except httpx.HTTPError as exc:
        raise AmazonUnavailable(
            redact(f"the SP-API endpoint {endpoint} is unreachable: {type(exc).__name__}: {exc}"),
            "check the network and the region; try again in a minute",
        ) from None
    request_id = response.headers.get("x-amzn-requestid", "none")
    said = f"{_errors_text(response)} (request id {request_id})"
    if response.status_code == 200:
        try:
            payload = response.json().get("payload", [])
            return [Participation.from_payload(item) for item in payload]
        except (ValueError, AttributeError, AssertionError):
            raise AmazonUnavailable(
                f"the Sellers API sent an unexpected answer; {said}",
                "try again; report it if it persists",
            ) from None
    if response.status_code == 429:
        raise AmazonUnavailable(
            f"the Sellers API throttled the call (429); {said}",
            "it allows about one call a minute: try again shortly (status caches its answer)",
        )
    if response.status_code == 403:
        raise AuthorizationRejected(
            f"the Sellers API refused the token (403); {said}. Usual causes: the app lacks a "
            "role this operation needs, the profile's region does not match the account's, "
            "or the authorization predates a role added to the app",
            f"check the app's roles and the region; if a role was added, re-authorize: "
            f"`spconnect reauth -p {profile}`",
        )
    if response.status_code >= 500:
        raise AmazonUnavailable(f"the Sellers API failed; {said}", "try again in a few minutes")
    raise SpconnectError(
        f"the Sellers API answered {said}", "this is likely a bug in spconnect; please report it"
    )
