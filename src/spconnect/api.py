"""The public Python API: a valid access token for a profile, and an httpx Auth.

    from spconnect import access_token, get_access_token, SPAPIAuth

    token = access_token("default", min_ttl=120)     # AccessToken: .access_token, .endpoint
    text = get_access_token("default")               # just the string
    with httpx.Client(base_url=endpoint, auth=SPAPIAuth("default")) as client:
        client.get("/sellers/v1/marketplaceParticipations")

Both use the same memory, cache, lock and secret store as ``spconnect token``; failures raise the
exceptions of ``spconnect.errors`` (each with the CLI's exit code and a hint).
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from spconnect._version import user_agent
from spconnect.access import get_access_token, profile_name


class SPAPIAuth(httpx.Auth):
    """httpx authentication that sends ``x-amz-access-token`` (amazon.md section 9)."""

    def __init__(self, profile: str | None = None, *, min_ttl: float = 60) -> None:
        self.profile = profile_name(profile)
        self.min_ttl = min_ttl

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["x-amz-access-token"] = get_access_token(self.profile, min_ttl=self.min_ttl)
        # amazon.md section 9: identify the caller; keep a user-agent the caller chose.
        if request.headers.get("user-agent", "").startswith("python-httpx/"):
            request.headers["user-agent"] = user_agent()
        yield request
