"""Regional SP-API endpoints (amazon.md section 4).

Deliberately free of imports beyond ``os``: the ``spconnect token`` fast path uses it to
report the endpoint without paying for ``typing``, ``re`` or ``dataclasses``.
"""

from __future__ import annotations

import os

REGIONS = ("na", "eu", "fe")

SPAPI_ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}

SANDBOX_ENDPOINTS = {
    "na": "https://sandbox.sellingpartnerapi-na.amazon.com",
    "eu": "https://sandbox.sellingpartnerapi-eu.amazon.com",
    "fe": "https://sandbox.sellingpartnerapi-fe.amazon.com",
}

# Default LWA token endpoint (amazon.md section 5); SPCONNECT_LWA_URL replaces it.
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"


def spapi_endpoint(region: str, sandbox: bool = False) -> str:
    """The SP-API base URL for a region; ``SPCONNECT_SPAPI_URL`` replaces it when set."""
    override = os.environ.get("SPCONNECT_SPAPI_URL")
    if override:
        return override.rstrip("/")
    table = SANDBOX_ENDPOINTS if sandbox else SPAPI_ENDPOINTS
    return table[region]


def lwa_token_url() -> str:
    """The LWA token endpoint; ``SPCONNECT_LWA_URL`` replaces it when set."""
    return os.environ.get("SPCONNECT_LWA_URL") or LWA_TOKEN_URL
