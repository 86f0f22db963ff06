"""``requests`` authentication with spconnect's tokens (design, "Layout": integrations/;
amazon.md section 9), the twin of ``spconnect.SPAPIAuth`` for httpx.

    import requests
    from spconnect.integrations.requests_auth import SPAPIAuth

    requests.get(endpoint + "/orders/v0/orders", params=..., auth=SPAPIAuth("default"))
"""

from __future__ import annotations

import requests

from spconnect._version import user_agent
from spconnect.access import get_access_token, profile_name


class SPAPIAuth(requests.auth.AuthBase):
    """Sends ``x-amz-access-token`` with a token valid at least ``min_ttl`` seconds."""

    def __init__(self, profile: str | None = None, *, min_ttl: float = 60) -> None:
        self.profile = profile_name(profile)
        self.min_ttl = min_ttl

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["x-amz-access-token"] = get_access_token(self.profile, min_ttl=self.min_ttl)
        # amazon.md section 9: identify the caller; keep a user-agent the caller chose.
        agent = request.headers.get("user-agent", "")
        if isinstance(agent, str) and agent.startswith("python-requests/"):
            request.headers["user-agent"] = user_agent()
        return request
