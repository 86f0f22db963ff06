"""python-amazon-sp-api clients whose tokens come from spconnect (design, "Layout":
integrations/; amazon.md section 9).

    from sp_api.api import Orders
    from spconnect.integrations.sp_api import connect

    orders = connect(Orders, "default")
    orders.get_orders(CreatedAfter="2026-01-01")                      # access token
    orders.get_orders(CreatedAfter="2026-01-01", RestrictedResources=["buyerInfo"])  # RDT

The library's clients accept an ``auth_token_client_class``; spconnect's answers
``get_auth`` from ``spconnect.access_token`` and ``get_grantless_auth`` from the
profile's app, so the library never asks Login with Amazon and never holds the refresh
token or the client secret. Its credential check still wants an LWA app id and secret:
it gets a marker that works nowhere. ``connect`` also points the client at the profile's
endpoint (sandbox and ``SPCONNECT_SPAPI_URL`` included) and its consent marketplace.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from sp_api.auth import AccessTokenResponse
from sp_api.base import Marketplaces

from spconnect import access
from spconnect.amazon.lwa import GRANTLESS_SCOPES
from spconnect.errors import UsageError

Client = TypeVar("Client")

# Not a secret: what the library's credential check gets instead of the real ones, which
# spconnect keeps in the secret store.
NOT_A_SECRET = "held-by-spconnect"


def _response(token: access.AccessToken) -> AccessTokenResponse:
    return AccessTokenResponse(
        access_token=token.access_token,
        expires_in=max(0, int(token.expires_at - time.time())),
        token_type="bearer",
    )


def token_client_class(profile: str | None = None, *, min_ttl: float = 60) -> type:
    """An ``auth_token_client_class`` for any python-amazon-sp-api client."""
    name = access.profile_name(profile)

    class SpconnectTokenClient:
        """The library's AccessTokenClient, answered by spconnect."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass  # refresh_token, credentials, proxies, verify: spconnect's business

        def get_auth(self) -> AccessTokenResponse:
            return _response(access.access_token(name, min_ttl=min_ttl))

        def get_grantless_auth(
            self, scope: str = "sellingpartnerapi::notifications"
        ) -> AccessTokenResponse:
            from spconnect import tokens
            from spconnect.workspace import Workspace

            scope_name = next((k for k, v in GRANTLESS_SCOPES.items() if v == scope), None)
            if scope_name is None:
                raise UsageError(
                    f"spconnect has no grantless scope {scope!r}",
                    f"grantless scopes: {', '.join(GRANTLESS_SCOPES.values())}",
                )
            workspace = Workspace(zero_config=True)
            return _response(tokens.grantless_token(workspace, name, scope_name, min_ttl=min_ttl))

        def authorize_auth_code(self, auth_code: str) -> dict[str, object]:
            raise UsageError(
                "authorization codes are exchanged by spconnect itself",
                f"run `spconnect login -p {name}`",
            )

    return SpconnectTokenClient


def client_kwargs(profile: str | None = None, *, min_ttl: float = 60) -> dict[str, object]:
    """Keyword arguments that give any python-amazon-sp-api client spconnect's tokens."""
    return {
        "credentials": {"lwa_app_id": NOT_A_SECRET, "lwa_client_secret": NOT_A_SECRET},
        "auth_token_client_class": token_client_class(profile, min_ttl=min_ttl),
    }


def connect(
    client_class: type[Client],
    profile: str | None = None,
    *,
    marketplace: Marketplaces | None = None,
    min_ttl: float = 60,
    **kwargs: Any,
) -> Client:
    """A ``client_class`` (Orders, Reports, ...) for the profile: its endpoint, its
    consent marketplace unless ``marketplace`` is given, and spconnect's tokens."""
    token = access.access_token(profile, min_ttl=min_ttl)  # not set up: raises now
    if marketplace is None:
        marketplace = _consent_marketplace(token.profile)
    client = client_class(  # type: ignore[call-arg]
        marketplace=marketplace, **client_kwargs(token.profile, min_ttl=min_ttl), **kwargs
    )
    # The library takes the endpoint from its marketplace table; the profile's may be
    # the sandbox or an override (SPCONNECT_SPAPI_URL).
    client.endpoint = token.endpoint  # type: ignore[attr-defined]
    return client


def _consent_marketplace(profile: str) -> Marketplaces:
    from spconnect.workspace import Workspace

    marketplace_id = Workspace(zero_config=True).config.profile(profile).marketplace
    for candidate in Marketplaces:
        if candidate.marketplace_id == marketplace_id:
            return candidate
    raise UsageError(
        f"python-amazon-sp-api does not know marketplace {marketplace_id}",
        "pass marketplace=Marketplaces.XX to connect()",
    )
