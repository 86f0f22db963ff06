"""Calling the SP-API (amazon.md section 9): the Sellers API check that a token works.

``GET /sellers/v1/marketplaceParticipations`` (getMarketplaceParticipations) lists the
marketplaces the account takes part in. Its rate is about one call a minute (0.016 rps,
burst 15), so callers cache the answer. Errors quote ``x-amzn-RequestId``.

Bounds (issue 8, section 5), as for LWA: one request, not retried, so a call lasts at most
``deadline`` seconds (30 by default) even against a server that trickles bytes, and
reads at most 1 MiB of an answer (amazon/bounded.py). Text from the answer (error
messages, store and marketplace names) is shown only through ``one_line``: control
characters stripped, secrets masked, length capped. An answer that is not the SP-API's
JSON, such as a proxy's HTML 403, is a network problem (exit 6), not a refused token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from spconnect._version import user_agent
from spconnect.amazon import bounded, client_tls
from spconnect.errors import (
    AmazonUnavailable,
    AuthorizationRejected,
    SpconnectError,
)
from spconnect.redaction import one_line

PARTICIPATIONS_PATH = "/sellers/v1/marketplaceParticipations"
# A participation is about 300 bytes and an account has at most a few dozen marketplaces.
MAX_ANSWER_BYTES = 1024 * 1024


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
    def from_payload(cls, item: object) -> Participation:
        """One payload item; ValueError when it is not shaped as amazon.md section 9 says."""
        market = item.get("marketplace") if isinstance(item, dict) else None
        part = item.get("participation") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(market, dict):
            raise ValueError("a participation without a marketplace")
        if not isinstance(part, dict):
            raise ValueError("a participation without its participation flags")

        def text(value: object) -> str:
            # Names are shown in `status` and cached: made safe like any answer text.
            return one_line(str(value), 120) if value is not None else ""

        store = item.get("storeName")
        return cls(
            marketplace_id=text(market.get("id")),
            name=text(market.get("name")),
            country_code=text(market.get("countryCode")),
            currency=text(market.get("defaultCurrencyCode")),
            language=text(market.get("defaultLanguageCode")),
            domain=text(market.get("domainName")),
            participating=part.get("isParticipating") is True,
            suspended_listings=part.get("hasSuspendedListings") is True,
            store_name=text(store) if store is not None else None,
        )


def _errors_text(body: dict[str, object] | None) -> str | None:
    """The SP-API's ``errors`` list as one safe line, or None when the body has none."""
    errors = body.get("errors") if body else None
    if not isinstance(errors, list) or not errors:
        return None
    parts = []
    for error in errors:
        if isinstance(error, dict):
            fields = (error.get(k) for k in ("code", "message", "details"))
            parts.append(": ".join(one_line(str(f), 200) for f in fields if f))
    return one_line("; ".join(p for p in parts if p), 400) or None


def marketplace_participations(
    endpoint: str,
    access_token: str,
    *,
    profile: str,
    timeout: float = 15.0,
    deadline: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> list[Participation]:
    """The account's marketplaces; errors carry the request id and what to do."""
    headers = {
        "x-amz-access-token": access_token,
        "user-agent": user_agent(),
        "accept": "application/json",
        "accept-encoding": bounded.ACCEPT_ENCODING,
    }
    try:
        with httpx.Client(
            timeout=timeout,
            transport=transport,
            limits=bounded.NO_KEEPALIVE,
            verify=client_tls.context_for(endpoint),
        ) as client:
            answer = bounded.fetch(
                client,
                "GET",
                endpoint.rstrip("/") + PARTICIPATIONS_PATH,
                headers=headers,
                deadline=time.monotonic() + deadline,
                timeout=timeout,
                limit=MAX_ANSWER_BYTES,
            )
    except bounded.DeadlineExceeded:
        raise AmazonUnavailable(
            f"the SP-API endpoint {endpoint} sent no complete answer within {deadline:g} s",
            "check the network and the region; try again in a minute",
        ) from None
    except httpx.HTTPError as exc:
        raise AmazonUnavailable(
            one_line(f"the SP-API endpoint {endpoint} is unreachable: {type(exc).__name__}: {exc}"),
            "check the network and the region; try again in a minute",
        ) from None
    status = answer.status_code
    request_id = one_line(answer.headers.get("x-amzn-requestid") or "none", 80)
    body = answer.json_object()
    errors = _errors_text(body)
    said = f"{errors or f'HTTP {status}'} (request id {request_id})"
    if status == 200:
        payload = body.get("payload") if body else None
        try:
            if not isinstance(payload, list):
                raise ValueError("no payload list")
            return [Participation.from_payload(item) for item in payload]
        except ValueError:
            raise AmazonUnavailable(
                f"the Sellers API sent an unexpected answer ({answer.describe()}); "
                f"request id {request_id}",
                "try again; report it if it persists",
            ) from None
    if status == 429:
        raise AmazonUnavailable(
            f"the Sellers API throttled the call (429); {said}",
            "it allows about one call a minute: try again shortly (status caches its answer)",
        )
    if status >= 500:
        what = said if errors else f"HTTP {status} with {answer.describe()}"
        raise AmazonUnavailable(f"the Sellers API failed; {what}", "try again in a few minutes")
    if errors is None:
        # Not the SP-API's JSON errors: a proxy, firewall or captive portal answered
        # (issue 8, section 5). Not a refused token, and not a bug in spconnect.
        raise AmazonUnavailable(
            f"the SP-API endpoint {endpoint} answered HTTP {status} with "
            f"{answer.describe()}, which is not an SP-API answer; a proxy, firewall or "
            f"captive portal on the way usually sends these (request id {request_id})",
            f"check the network path to {endpoint} (proxy settings such as HTTPS_PROXY, "
            "firewall, VPN), then try again",
        )
    if status == 403:
        raise AuthorizationRejected(
            f"the Sellers API refused the token (403); {said}. Usual causes: the app lacks a "
            "role this operation needs, the profile's region does not match the account's, "
            "or the authorization predates a role added to the app",
            f"check the app's roles and the region; if a role was added, re-authorize: "
            f"`spconnect reauth -p {profile}`",
        )
    raise SpconnectError(
        f"the Sellers API answered {said}", "this is likely a bug in spconnect; please report it"
    )
