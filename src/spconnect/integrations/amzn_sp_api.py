"""Amazon's Python SDK (amzn-sp-api) with its tokens from spconnect (design, "Layout":
integrations/; amazon.md section 9).

    from spapi import OrdersV0Api
    from spconnect.integrations.amzn_sp_api import api_client, restricted_api_client

    orders = OrdersV0Api(api_client("default"))
    orders.get_orders(marketplace_ids=["ATVPDKIKX0DER"], created_after="2026-01-01")
    private = OrdersV0Api(restricted_api_client("default", "GET", "/orders/v0/orders",
                                                ["buyerInfo"]))

The SDK's ApiClient asks its configuration's ``access_token_cache`` for a token before
every call; spconnect's answers from ``spconnect.access_token`` (memory, then the cache
file, then one refresh under the profile's lock), so the SDK never calls Login with
Amazon nor holds a refresh token or client secret. Note that importing the SDK runs
``logging.basicConfig(level=INFO)`` (its own choice, in spapi/client.py).
"""

from __future__ import annotations

from spapi import ApiClient, Configuration

from spconnect import access


class SpconnectTokenCache:
    """What the SDK's ApiClient calls for a token: ``get_lwa_access_token()``."""

    def __init__(self, profile: str | None = None, *, min_ttl: float = 60) -> None:
        self.profile = access.profile_name(profile)
        self.min_ttl = min_ttl

    def get_lwa_access_token(self) -> str:
        return access.get_access_token(self.profile, min_ttl=self.min_ttl)


class _FixedToken:
    """A restricted data token for the calls it was issued for."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_lwa_access_token(self) -> str:
        return self._token


def _client(endpoint: str, tokens: object) -> ApiClient:
    configuration = Configuration()
    configuration.host = endpoint  # sandbox and SPCONNECT_SPAPI_URL included
    configuration.access_token_cache = tokens
    return ApiClient(configuration=configuration)


def api_client(profile: str | None = None, *, min_ttl: float = 60) -> ApiClient:
    """An SDK ApiClient for the profile's endpoint, with spconnect's tokens."""
    token = access.access_token(profile, min_ttl=min_ttl)  # not set up: raises now
    return _client(token.endpoint, SpconnectTokenCache(token.profile, min_ttl=min_ttl))


def restricted_api_client(
    profile: str | None, method: str, path: str, data_elements: list[str]
) -> ApiClient:
    """An ApiClient that sends a restricted data token for ``method path`` (amazon.md
    section 9), obtained as ``spconnect api --rdt`` obtains it; good for an hour."""
    from spconnect.spapi.caller import Caller

    token = access.access_token(profile, min_ttl=60)
    with Caller(lambda: access.get_access_token(token.profile, min_ttl=60), token.endpoint) as c:
        rdt = c.restricted_data_token(method, path, data_elements)
    return _client(token.endpoint, _FixedToken(rdt))
