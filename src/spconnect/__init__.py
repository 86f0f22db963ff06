"""spconnect: connect Amazon seller and vendor accounts to your software through SP-API.

The public Python API is small and import-light; the heavy parts load on first use::

    from spconnect import get_access_token, SPAPIAuth

    token = get_access_token("default")              # a valid access token (str)
    httpx.get(url, auth=SPAPIAuth("default"))        # adds x-amz-access-token

Importing this package imports nothing but the version: the ``spconnect token`` fast path
starts here.
"""

from __future__ import annotations

from spconnect._version import __version__

# Not `from typing import TYPE_CHECKING`: typing costs ~15 ms, more than Python's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from spconnect.api import SPAPIAuth, get_access_token

__all__ = ["SPAPIAuth", "__version__", "get_access_token"]


def __getattr__(name: str) -> Any:
    if name in ("get_access_token", "SPAPIAuth"):
        from spconnect import api

        return getattr(api, name)
    raise AttributeError(f"module 'spconnect' has no attribute {name!r}")
