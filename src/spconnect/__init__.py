"""spconnect: connect Amazon seller and vendor accounts to your software through SP-API.

The public Python API is small and import-light; the heavy parts load on first use::

    import spconnect

    token = spconnect.access_token("default")       # AccessToken: .access_token, .endpoint,
                                                    #   .expires_at, .selling_partner_id, ...
    text = spconnect.get_access_token("default")    # just the token string
    httpx.get(url, auth=spconnect.SPAPIAuth())      # adds x-amz-access-token (needs httpx)

A repeated call is answered from memory while the token is fresh; a new process reads the
cache file; neither opens the keyring until a refresh is due.

Importing this package imports nothing but the version: the ``spconnect token`` fast path
starts here.
"""

from __future__ import annotations

from spconnect._version import __version__

# Not `from typing import TYPE_CHECKING`: typing costs ~15 ms, more than Python's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from spconnect.access import AccessToken, access_token, get_access_token
    from spconnect.api import SPAPIAuth

__all__ = ["AccessToken", "SPAPIAuth", "__version__", "access_token", "get_access_token"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the token functions need only the standard library until a
    # refresh is due; SPAPIAuth is an httpx Auth class and imports httpx.
    if name in ("access_token", "AccessToken", "get_access_token"):
        from spconnect import access

        return getattr(access, name)
    if name == "SPAPIAuth":
        from spconnect import api

        return getattr(api, name)
    raise AttributeError(f"module 'spconnect' has no attribute {name!r}")
