"""Amazon's Python SDK (amzn-sp-api) with its tokens from spconnect (design, "Layout":
integrations/; amazon.md section 9; issue 10).

    from spapi import OrdersV0Api
    from spconnect.integrations.amzn_sp_api import api_client, restricted_api_client

    orders = OrdersV0Api(api_client("default"))
    orders.get_orders(marketplace_ids=["ATVPDKIKX0DER"], created_after="2026-01-01")
    private = OrdersV0Api(restricted_api_client("default", "GET", "/orders/v0/orders",
                                                ["buyerInfo"]))

The SDK's ApiClient asks its configuration's ``access_token_cache`` for a token before
every call; spconnect's answers from ``spconnect.access_token`` (memory, then the cache
file, then one refresh under the profile's lock), so the SDK never calls Login with
Amazon nor holds a refresh token or client secret. A revoked authorization therefore
surfaces at once as ``spconnect.errors.AuthorizationRejected`` (exit 4's class), where the
SDK's own token client retries for seconds and reports a server error (issue 10). When the
SP-API refuses a token spconnect had cached (Amazon calls it revoked or expired), the
client renews it once and repeats the call, as ``spconnect api`` does; Login with
Amazon's verdict on that refresh is what the caller sees.

``restricted_api_client`` holds its restricted data token in memory only, obtains it
again before its ``expiresIn`` runs out, and once more when the SP-API refuses it, as
``spconnect api --rdt`` does, so a client kept for a long export keeps working.

Note that importing the SDK runs ``logging.basicConfig(level=INFO)`` (its own choice, in
spapi/client.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from spapi import ApiClient, Configuration
from spapi.rest import ApiException

from spconnect import access
from spconnect.spapi.answers import RESTRICTED_TOKEN_NAMES, refuses_token_in


class SpconnectTokenCache:
    """What the SDK's ApiClient calls for a token: ``get_lwa_access_token()``."""

    def __init__(self, profile: str | None = None, *, min_ttl: float = 60) -> None:
        self.profile = access.profile_name(profile)
        self.min_ttl = min_ttl

    def get_lwa_access_token(self) -> str:
        return access.get_access_token(self.profile, min_ttl=self.min_ttl)

    def renew(self) -> str:
        """A new token in place of one Amazon refused (raises spconnect's errors)."""
        return access.get_access_token(self.profile, min_ttl=self.min_ttl, force_refresh=True)


class RestrictedTokenSource:
    """What the SDK's ApiClient calls for a token, for calls that need a restricted data
    token: one for ``method path`` and these data elements (amazon.md section 9), held in
    memory, renewed before it expires (``renew`` gets a new one at once). Thread-safe."""

    def __init__(
        self,
        profile: str,
        endpoint: str,
        method: str,
        path: str,
        data_elements: Sequence[str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from spconnect.spapi.caller import Caller

        self._resource = (method, path, tuple(data_elements))
        # The Caller keeps no connection open between requests (no keep-alive).
        self._caller = Caller(
            lambda: access.get_access_token(profile, min_ttl=60),
            endpoint,
            renew_token=SpconnectTokenCache(profile).renew,
            clock=clock,
        )
        self._lock = threading.Lock()

    def get_lwa_access_token(self) -> str:
        with self._lock:
            return self._caller.held_restricted_data_token(*self._resource)

    def renew(self) -> str:
        """A new restricted data token in place of one Amazon refused."""
        with self._lock:
            return self._caller.restricted_data_token(*self._resource)


class _SpconnectApiClient(ApiClient):  # type: ignore[misc]
    """The SDK's ApiClient, renewing once a profile token the SP-API refuses."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().request(method, url, *args, **kwargs)
        except ApiException as error:
            tokens = self.configuration.access_token_cache
            status, document = int(error.status or 0), _document(error.body)
            if isinstance(tokens, RestrictedTokenSource):
                refused = refuses_token_in(status, document, names=RESTRICTED_TOKEN_NAMES)
            else:
                refused = isinstance(tokens, SpconnectTokenCache) and refuses_token_in(
                    status, document
                )
            if not refused:
                raise
            token = tokens.renew()
        self.default_headers["x-amz-access-token"] = token
        headers = kwargs.get("headers")
        if isinstance(headers, dict):
            kwargs["headers"] = {**headers, "x-amz-access-token": token}
        return super().request(method, url, *args, **kwargs)


def _document(body: object) -> object:
    try:
        return json.loads(body) if isinstance(body, (bytes, str)) else None
    except (ValueError, UnicodeDecodeError):
        return None


def _client(endpoint: str, tokens: object) -> ApiClient:
    configuration = Configuration()
    configuration.host = endpoint  # sandbox and SPCONNECT_SPAPI_URL included
    configuration.access_token_cache = tokens
    return _SpconnectApiClient(configuration=configuration)


def api_client(profile: str | None = None, *, min_ttl: float = 60) -> ApiClient:
    """An SDK ApiClient for the profile's endpoint, with spconnect's tokens."""
    token = access.access_token(profile, min_ttl=min_ttl)  # not set up, revoked: raises now
    return _client(token.endpoint, SpconnectTokenCache(token.profile, min_ttl=min_ttl))


def restricted_api_client(
    profile: str | None, method: str, path: str, data_elements: list[str]
) -> ApiClient:
    """An ApiClient that sends a restricted data token for ``method path`` (amazon.md
    section 9), obtained as ``spconnect api --rdt`` obtains it, and again before it
    expires or when Amazon refuses it (module docstring)."""
    token = access.access_token(profile, min_ttl=60)
    source = RestrictedTokenSource(token.profile, token.endpoint, method, path, data_elements)
    source.get_lwa_access_token()  # the first one now: an app without the role fails here
    return _client(token.endpoint, source)
