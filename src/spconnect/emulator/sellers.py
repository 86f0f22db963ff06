"""The emulated Sellers API: ``GET /sellers/v1/marketplaceParticipations`` (amazon.md 9).

Per-account marketplaces from the catalogue; 403 ``Unauthorized`` for an unknown,
expired or grantless token, a vendor token, or an account whose app lacks the role; 429
when called faster than its rate (0.016 requests per second, burst 15: a token bucket).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from spconnect.amazon.marketplaces import by_id
from spconnect.emulator.state import EmulatorState

PATH = "/sellers/v1/marketplaceParticipations"
RATE_PER_SECOND = 0.016
BURST = 15

# Data for the payload only (the emulator's, not spconnect's catalogue).
_TLD = {
    "US": "com",
    "CA": "ca",
    "MX": "com.mx",
    "BR": "com.br",
    "UK": "co.uk",
    "DE": "de",
    "FR": "fr",
    "IT": "it",
    "ES": "es",
    "NL": "nl",
    "SE": "se",
    "PL": "pl",
    "BE": "com.be",
    "TR": "com.tr",
    "AE": "ae",
    "SA": "sa",
    "EG": "eg",
    "IN": "in",
    "IE": "ie",
    "ZA": "co.za",
    "JP": "co.jp",
    "AU": "com.au",
    "SG": "sg",
}
_CURRENCY = {
    "US": "USD",
    "CA": "CAD",
    "MX": "MXN",
    "BR": "BRL",
    "UK": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "IT": "EUR",
    "ES": "EUR",
    "NL": "EUR",
    "SE": "SEK",
    "PL": "PLN",
    "BE": "EUR",
    "TR": "TRY",
    "AE": "AED",
    "SA": "SAR",
    "EG": "EGP",
    "IN": "INR",
    "IE": "EUR",
    "ZA": "ZAR",
    "JP": "JPY",
    "AU": "AUD",
    "SG": "SGD",
}


@dataclass
class Answer:
    status: int
    body: dict[str, object]
    headers: dict[str, str]


def _denied(details: str) -> Answer:
    return Answer(
        403,
        {
            "errors": [
                {
                    "code": "Unauthorized",
                    "message": "Access to requested resource is denied.",
                    "details": details,
                }
            ]
        },
        {},
    )


def _take(state: EmulatorState, account_id: str) -> bool:
    """Token bucket per account: True when a call may go through now."""
    now = state.now()
    tokens, last = state.sellers_buckets.get(account_id, (float(state.sellers_burst), now))
    tokens = min(float(state.sellers_burst), tokens + (now - last) * RATE_PER_SECOND)
    if tokens < 1:
        state.sellers_buckets[account_id] = (tokens, now)
        return False
    state.sellers_buckets[account_id] = (tokens - 1, now)
    return True


def marketplace_participations(state: EmulatorState, access_token: str) -> Answer:
    state.count("sellers_api")
    with state.lock:
        issued = state.access_tokens.get(access_token)
        if issued is None:
            return _denied("The access token you provided is revoked, malformed or invalid.")
        grant, expires_at, scope = issued
        if state.now() >= expires_at:
            return _denied("The access token you provided has expired.")
        if scope is not None:
            return _denied("A grantless token cannot call this operation.")
        account = state.accounts.get(grant.selling_partner_id or "")
        if account is None or account.vendor:
            return _denied("This operation is not available to this selling partner.")
        if account.selling_partner_id in state.sellers_denied:
            return _denied("The application does not have the role this operation requires.")
        if not _take(state, account.selling_partner_id):
            return Answer(
                429,
                {
                    "errors": [
                        {
                            "code": "QuotaExceeded",
                            "message": "You exceeded your quota for the requested resource.",
                        }
                    ]
                },
                {"x-amzn-RateLimit-Limit": str(RATE_PER_SECOND)},
            )
        payload = []
        for marketplace_id in account.marketplace_ids:
            m = by_id(marketplace_id)
            code = m.code if m else "US"
            payload.append(
                {
                    "marketplace": {
                        "id": marketplace_id,
                        "name": f"Amazon.{_TLD.get(code, 'com')}",
                        "countryCode": "GB" if code == "UK" else code,
                        "defaultCurrencyCode": _CURRENCY.get(code, "USD"),
                        "defaultLanguageCode": "en_US",
                        "domainName": f"www.amazon.{_TLD.get(code, 'com')}",
                    },
                    "participation": {
                        "isParticipating": True,
                        "hasSuspendedListings": marketplace_id in state.suspended_listings,
                    },
                    "storeName": account.name,
                }
            )
        return Answer(
            200,
            {"payload": payload},
            {
                "x-amzn-RateLimit-Limit": str(RATE_PER_SECOND),
                "x-amzn-RequestId": secrets.token_hex(16),
            },
        )
