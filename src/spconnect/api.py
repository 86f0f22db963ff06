"""The public Python API: a valid access token for a profile, and an httpx Auth.

    from spconnect import get_access_token, SPAPIAuth

    token = get_access_token("default", min_ttl=120)
    with httpx.Client(base_url=endpoint, auth=SPAPIAuth("default")) as client:
        client.get("/sellers/v1/marketplaceParticipations")

Both use the same cache, lock and secret store as ``spconnect token``; failures raise the
exceptions of ``spconnect.errors`` (each with the CLI's exit code and a hint).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import httpx

from spconnect.amazon.lwa import user_agent


def _profile(profile: str | None) -> str:
    return profile or os.environ.get("SPCONNECT_PROFILE") or "default"


def get_access_token(
    profile: str | None = None, *, min_ttl: float = 0, force_refresh: bool = False
) -> str:
    """A valid LWA access token for ``profile`` (default: $SPCONNECT_PROFILE or 'default')."""
    from spconnect.tokens import access_token
    from spconnect.workspace import Workspace

    token = access_token(
        Workspace(), _profile(profile), min_ttl=min_ttl, force_refresh=force_refresh
    )
    return token.access_token


class SPAPIAuth(httpx.Auth):
    """httpx authentication that sends ``x-amz-access-token`` (amazon.md section 9)."""

    def __init__(self, profile: str | None = None, *, min_ttl: float = 60) -> None:
        self.profile = _profile(profile)
        self.min_ttl = min_ttl

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["x-amz-access-token"] = get_access_token(self.profile, min_ttl=self.min_ttl)
        # amazon.md section 9: identify the caller; keep a user-agent the caller chose.
        if request.headers.get("user-agent", "").startswith("python-httpx/"):
            request.headers["user-agent"] = user_agent()
        yield request
