"""python-amazon-sp-api clients whose tokens come from spconnect (design, "Layout":
integrations/; amazon.md section 9; issue 10).

    from sp_api.api import Orders
    from spconnect.integrations.sp_api import client_args

    orders = Orders(**client_args("default"))
    orders.get_orders(CreatedAfter="2026-01-01")                      # access token
    orders.get_orders(CreatedAfter="2026-01-01", RestrictedResources=["buyerInfo"])  # RDT

One call gives any of the library's clients what it needs: an ``auth_token_client_class``
whose ``get_auth`` answers from ``spconnect.access_token`` and ``get_grantless_auth`` from
the profile's app, so the library never asks Login with Amazon and never holds the
refresh token or the client secret (its credential check still wants an LWA app id and
secret: it gets a marker that works nowhere); and a ``marketplace`` carrying the profile's
consent marketplace and its endpoint (sandbox and ``SPCONNECT_SPAPI_URL`` included), which
the library's own marketplace table would not know.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sp_api.auth import AccessTokenResponse

from spconnect import access
from spconnect.amazon.lwa import GRANTLESS_SCOPES
from spconnect.errors import UsageError

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


# The AWS region of each SP-API region, as the library's marketplace table has it.
_AWS_REGIONS = {"na": "us-east-1", "eu": "eu-west-1", "fe": "us-west-2"}


@dataclass(frozen=True)
class ProfileMarketplace:
    """What the library's clients read from a ``Marketplaces`` member, for a profile."""

    endpoint: str
    marketplace_id: str
    region: str


def client_args(profile: str | None = None, *, min_ttl: float = 60) -> dict[str, object]:
    """Keyword arguments for any python-amazon-sp-api client (Orders, Reports, ...):
    the profile's marketplace and endpoint, and spconnect's tokens."""
    from spconnect.workspace import Workspace

    token = access.access_token(profile, min_ttl=min_ttl)  # not set up, revoked: raises now
    consent = Workspace(zero_config=True).config.profile(token.profile).marketplace
    return {
        "marketplace": ProfileMarketplace(
            token.endpoint, consent, _AWS_REGIONS.get(token.region, "us-east-1")
        ),
        "credentials": {"lwa_app_id": NOT_A_SECRET, "lwa_client_secret": NOT_A_SECRET},
        "auth_token_client_class": token_client_class(token.profile, min_ttl=min_ttl),
    }
